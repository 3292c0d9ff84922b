// One import for the whole library: `import SwiftQuant`.
@_exported import SwiftQuantCore
@_exported import SwiftQuantKernels
@_exported import SwiftQuantSafeTensors
@_exported import SwiftQuantGGUF
@_exported import SwiftQuantCheckpoint
@_exported import SwiftQuantModelFolder
@_exported import SwiftQuantPlan
@_exported import SwiftQuantConversion
@_exported import SwiftQuantNN
@_exported import SwiftQuantModels
