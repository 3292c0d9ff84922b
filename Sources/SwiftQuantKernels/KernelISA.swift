import CSwiftQuantKernels

/// The instruction-set variant of the C kernels: matrix products, transformer blocks, and the
/// conversion kernels (decoding, max|w|, symmetric INT8 and Q8_0 quantization).
///
/// Every variant is compiled into every build; one is chosen per process from what the CPU
/// supports (the widest), or a lower one named by the environment variable `SWIFTQUANT_ISA`
/// (`avx512vnni`, `avx512`, `avx2`, `neon`, `scalar`). A name the CPU cannot run is ignored.
/// All variants give the same numbers bit for bit; they differ only in speed.
package enum KernelISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0
    case neon = 1
    case avx2 = 2
    case avx512 = 3
    case avx512vnni = 4

    /// The variant this process uses (fixed at first use).
    package static var active: KernelISA {
        if let scoped = scopedOverride { return scoped }
        return KernelISA(rawValue: sqk_active_isa()) ?? .scalar
    }

    /// The widest variant this CPU and OS run.
    package static var cpuBest: KernelISA {
        KernelISA(rawValue: sqk_cpu_isa()) ?? .scalar
    }

    /// Every variant this CPU runs, scalar first.
    package static var runnable: [KernelISA] {
        allCases.filter { $0.runs(onCPUWithBest: cpuBest) }
    }

    /// Whether this variant runs on a CPU whose widest variant is `best`.
    package func runs(onCPUWithBest best: KernelISA) -> Bool {
        sqk_isa_runs_on(rawValue, best.rawValue) != 0
    }

    /// The variant `SWIFTQUANT_ISA=request` selects on a CPU whose widest variant is `best`:
    /// the requested one if that CPU runs it, else `best`.
    package static func resolve(request: String?, cpuBest best: KernelISA) -> KernelISA {
        KernelISA(rawValue: sqk_resolve_isa(request, best.rawValue)) ?? .scalar
    }

    /// The name `SWIFTQUANT_ISA` and `swiftquant bench --json` use.
    package var name: String { String(cString: sqk_isa_name(rawValue)) }

    package var description: String { name }

    /// Runs `body` with every kernel on this thread's task using `isa` (lowered to the CPU's
    /// widest when the CPU cannot run it): how tests compare each variant with the scalar one
    /// in one process, where the environment variable can choose only once.
    package static func with<R>(_ isa: KernelISA, _ body: () throws -> R) rethrows -> R {
        try $scopedOverride.withValue(isa.runs(onCPUWithBest: cpuBest) ? isa : cpuBest, operation: body)
    }

    @TaskLocal private static var scopedOverride: KernelISA?
}
