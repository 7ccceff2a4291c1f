package erw.engine.cpu;

import erw.engine.Precision;
import erw.engine.host.WorkerPool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM on row-major contiguous matrices:
 * {@code C (m x n) [+]= op(A) op(B)} with {@code op(A)} (m x k), {@code op(B)} (k x n).
 * A is stored (m x k), or (k x m) when {@code transA}; B is stored (k x n), or (n x k) when
 * {@code transB}.
 *
 * <h2>Determinism</h2>
 * Every element is computed as one chain of fused multiply-adds in increasing {@code p}:
 * {@code c = fma(a[i][k-1], b[k-1][j], ... fma(a[i][0], b[0][j], c0))} with {@code c0} the old C
 * when accumulating, else +0. The micro-kernels start their accumulators from C (or from zero in
 * the first k block) and store them back after each k block, so neither the blocking, nor which
 * kernel (full tile, edge tile), nor which thread computes an element changes its arithmetic.
 * Threads split the output only (rows, or columns for short-and-wide C), never k, so results are
 * bit-identical for any thread count.
 *
 * <h2>Blocking (tuned on a 2-core AMD EPYC Zen 4: AVX-512, 32 KiB L1d and 1 MiB L2 per core)</h2>
 * The Goto/BLIS scheme, with A values broadcast and B rows loaded as vectors:
 * <ul>
 *   <li>Micro-kernel {@code MR x NR} = 12 x 32 (two 16-float vectors): 24 accumulators + 2 B vectors
 *       + 1 broadcast = 27 of the 32 zmm registers, no spills (checked in the C2 code: the inner loop
 *       is 2 vector loads, 12 {@code vbroadcastss} from memory, 24 {@code vfmadd231ps}, no bounds
 *       checks). It is FMA-bound: Zen 4 retires one 512-bit FMA per cycle, and it measures at the
 *       core's peak (about 110 GFLOP/s at 3.5 GHz) when its operands are in cache. On a Xeon with two
 *       512-bit FMA ports (245 GFLOP/s per core measured with FMAs alone) it runs at 190-220 GFLOP/s
 *       from L1. C2 keeps the accumulators in registers only while the kernel's source stays this
 *       plain: reading the A value through a helper method (even a one-line static one) made C2
 *       spill all 24 accumulators to the stack each step (19 GFLOP/s per core, 2048^3 on two cores
 *       38 GFLOP/s instead of 215-265), and starting the accumulators from either C or zero through a
 *       branch spilled some of them on some profiles; so A is read inline, and the accumulators
 *       always start from a load (C, the bias row, or {@link #ZERO} with row stride 0). Even the
 *       {@code BCAST ? load : broadcast} choice in the 12-row kernels (folded, BCAST being a
 *       constant) left C2 scheduling all 12 broadcasts first and spilling two accumulators; the spill
 *       slots' alignment then depends on the call path (a zmm spill that straddles two cache lines
 *       defeats store forwarding on the loop's critical path), so the same GEMM ran at 280-300 or at
 *       110 GFLOP/s on two threads depending on whether the parallel loop's lambda was compiled yet.
 *       The 12-row kernels broadcast unconditionally (pre-broadcast A is an 8-float-vector option
 *       only) and have no spills: 4096x768x192 on two cores 360-377 GFLOP/s, OpenBLAS 349-353. Reading
 *       the B panel a few steps ahead (Java has no prefetch; one scalar load per step, its value kept)
 *       made the kernel alone ~20% faster from L2 but C2 then hoisted all 12 broadcasts and spilled 2-6
 *       accumulators (the GEMM 15-20% slower; a 10 x 32 kernel with the same loads did not spill but was
 *       no faster). {@code tools/c2-loop} disassembles C2's code for a kernel (no hsdis needed) and
 *       counts the vector spills in its loop: 0 here, whatever the timing noise of the machine. The
 *       12 x 32 kernel's loop does two steps per iteration (written out; C2 does not unroll a body this
 *       large): 89 instructions for 48 FMAs instead of 50 for 24, the index arithmetic and loop control
 *       otherwise taking issue slots on the FMA ports. On a 2-core Xeon (Emerald Rapids) 2048^3 on two
 *       threads went from 172-180 to 187-206 GFLOP/s (4 alternating rounds; the SiT shapes +1-2%); four
 *       steps per iteration made C2 spill (97 spill loads/stores in the loop), so two it is.</li>
 *   <li>{@code KC} = 384: the A micro-panel (12 x 384 floats, 18 KiB) stays in L1 while the kernel
 *       sweeps the packed B block; C tiles are loaded and stored once per 384 steps of k.</li>
 *   <li>{@code NC} = 2048: the packed B block (384 x 2048 floats, 3 MiB) streams with unit stride from
 *       L2/L3, which the prefetchers sustain (the kernel needs about 5 bytes per cycle). Smaller
 *       blocks that fit L2 measured slower: A panels are then packed once per NC columns, more often.
 *       On Intel CPUs the block is sized to the L2 instead ({@link #defaultNc}: 768 on a Xeon with
 *       2 MiB L2, where streaming it from the mesh L3 cost a fifth of the speed).</li>
 *   <li>{@code MC} = 96 rows of A are packed at once, so that a transposed A is read 96 contiguous
 *       floats (6 cache lines) at a time rather than 12.</li>
 * </ul>
 * With 8-float vectors (AVX2) the kernel is 6 x 16 and A is packed pre-broadcast, KC = 128 ({@link #BCAST}:
 * measured on a Zen 2/3 EPYC, where the broadcasting kernel ran at half the FMA units' rate).
 * Loop order per thread: {@code jc (NC) -> pc (KC): pack B -> ic (MC): pack A -> micro-panel (MR)
 * -> jr (NR): kernel}. The packing routines absorb the transposes (copies for the contiguous
 * cases, 16 x 16 register transposes for the others), so one kernel family serves all four
 * layouts. A panels are stored row by row, rows {@code AS} floats apart, which keeps the copy of
 * a non-transposed A a plain {@code arraycopy} and gives the kernel constant address offsets.
 * Edge tiles use zero-padded panels and a small C tile buffer; kernels of 4 rows or of 1 vector
 * serve thin edges so that thin matrices waste less. There is no separate small-matrix path: the
 * packed path measured faster than a direct loop down to 16 x 16 x 16. Packing buffers are
 * thread-local and reused, so calls do not allocate once warm.
 */
public final class Sgemm {
    private Sgemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** Ints of the same width as {@link #S}, for rounding a packed panel's bit patterns. */
    private static final VectorSpecies<Integer> IS = S.withLanes(int.class);
    /** Vectors per micro-tile row; the micro-tile is MR x (NV * VL). */
    private static final int NV = 2;
    private static final int NR = NV * VL;
    /** Rows of the main micro-kernel: 12 with 32 vector registers (AVX-512), 6 with 16 (AVX2 and less). */
    private static final int MR = VL >= 16 ? 12 : 6;
    /** Rows of the kernel used for short edges (at most 4 rows left). */
    private static final int MR_EDGE = 4;
    /**
     * A values packed pre-broadcast (each as a whole vector of copies), read by the micro-kernels as
     * vector loads instead of broadcasts. On a 2-core AMD EPYC (Zen 2/3, AVX2) the 6 x 16 kernel with
     * one broadcast per row and step ran at 41 GFLOP/s per core, half the 83 of its FMA units (C2's
     * broadcasts compete with the FMAs there); with pre-broadcast A, 67 in the same loop. With 32
     * registers (AVX-512, 12 x 32) broadcasts measured at the core's peak on Zen 4, so only the
     * 8-float-vector path does it, with {@code KC} = 128 so that an A micro-panel (128 x 6 vectors, 24 KiB)
     * stays in L1 (the kernel reads 6 A vectors per step; from L2 that is the L2's whole bandwidth):
     * GEMM 2048^3 on one core went from 38 to 59-70 GFLOP/s (KC 256: 58-61; OpenBLAS 0.3.21 81-90 there),
     * on two from 69 to 111-132 (KC 256: 114-117; OpenBLAS at its best 172-180). Medians of 3 runs on a
     * noisy VM.
     * With 16-float vectors the 12-row kernels always broadcast and with 8-float vectors the 6-row kernels
     * always read pre-broadcast A: no choice inside a kernel (see the micro-kernel above).
     * {@code -Derw.sgemm.kc=N}, {@code -Derw.sgemm.nc=N} and
     * {@code -Derw.sgemm.mcPanels=N} (MC in micro-panels) override (for tuning; the
     * arithmetic of every element is the same whatever they are).
     */
    static final boolean BCAST = VL < 16;
    static final int KC = Integer.getInteger("erw.sgemm.kc", BCAST ? 128 : 384);
    /** This CPU's vendor ({@code vendor_id} of /proc/cpuinfo) and L2 per core in bytes (sysfs), or "" and 0. */
    private static final String VENDOR = cpuVendor();
    private static final long L2 = l2Bytes();
    static final int NC = Math.max(NR, Integer.getInteger("erw.sgemm.nc", defaultNc(VENDOR, L2)) / NR * NR);
    /**
     * Distance between the rows of a packed A panel: KC plus one cache line, so that the rows of a
     * panel (and of a packed block) fall in different L1 sets; KC * 4 bytes alone is a multiple of
     * 512 and would put every eighth row in the same set.
     */
    static final int AS = KC + 16;
    /** Rows of A packed at once (8 micro-panels): transposed A is read MC floats at a time. */
    static final int MC = Integer.getInteger("erw.sgemm.mcPanels", 8) * MR;
    /** Distance between the rows of a packed A micro-panel, and its advance per step of p. */
    private static final int ASTEP = BCAST ? VL : AS, AINC = BCAST ? MR * VL : 1;
    /** Floats per packed A micro-panel: MR rows of AS floats, or KC steps of MR vectors. */
    private static final int PANEL = BCAST ? KC * MR * VL : MR * AS;

    /** The packing routines transpose 16 x 16 blocks in registers (needs 16-float vectors). */
    private static final boolean TRANSPOSE16 = VL == 16;
    /** Values of p per transposing step in the packing of a transposed B. */
    private static final int TP = 16;
    /**
     * Below this many multiply-adds a GEMM runs on the caller's thread: a dispatch costs more
     * (measured: 2 threads win from about 96 x 96 x 96 on).
     */
    private static final long PARALLEL_MIN = 1L << 19;

    /**
     * NC for a CPU ({@code -Derw.sgemm.nc} overrides). On a 2-core Zen 4 EPYC (1 MiB L2, fast L3) a 3 MiB
     * B block streamed from L3 (NC 2048) measured faster than blocks that fit L2. On an Intel Xeon with
     * AVX-512 (2 MiB L2 per core, mesh L3) the block must stay in L2: 2048^3 on two cores ran at 264
     * GFLOP/s with NC 2048, 308 with 1024, 334-345 with 768 (KC x NC = 9/16 of the L2), 340-343 with
     * 640, 512 and 384; the SiT shapes best at 768 too. So on Intel CPUs NC sizes the block to 9/16 of
     * the L2 (at least 4 panels); elsewhere, or when the L2 is unknown, 2048.
     */
    static int defaultNc(String vendor, long l2) {
        if (!vendor.equals("GenuineIntel") || l2 <= 0) return 2048;
        long nc = l2 * 9 / 16 / (4L * KC) / NR * NR;
        return (int) Math.max(4L * NR, Math.min(2048, nc));
    }

    /** One line on the blocking in use, for benchmark reports. */
    public static String describe() {
        return "micro-tile " + MR + " x " + NR + (BCAST ? " (A pre-broadcast)" : "") + ", KC " + KC + ", NC " + NC + ", MC " + MC
                + (alignsPanels() ? ", B panels at cache lines" : ", B panels unaligned (no native access for erw.engine)")
                + " (" + (VENDOR.isEmpty() ? "CPU vendor unknown" : VENDOR) + ", L2 " + (L2 > 0 ? L2 / 1024 + " KiB" : "unknown") + ")"
                + switch (fpuSpilling()) {
                    case "false" -> "; C2 spills no GPR to vector registers";
                    case "true" -> "; C2 may spill GPRs to vector registers (-XX:+UseFPUForSpilling: the micro-kernel measured 10-15% slower so on a Xeon; ./erw turns it off)";
                    default -> "";
                };
    }

    /**
     * This JVM's {@code UseFPUForSpilling} ("true", "false", or "" where the VM has no such option). JDK 25's HotSpot had it
     * on by default on the Xeons of sessions 16-18 (whether on AMD too was not checked): C2 may then keep a general-purpose value in a free vector register instead of on the
     * stack. The 12 x 32 kernel leaves exactly one zmm register free, and C2 parked the B panel's base address there,
     * moving it back ({@code vmovq %xmm31,%r9}, a port-0 uop on the B loads' path) every iteration. On a 2-core Xeon
     * (Emerald Rapids) that loop, replayed in assembly, ran at 0.84-0.87 of the same loop without the move (0.97-1.00
     * of the FMA peak at best, against 0.83 with it; medians of 40 alternating slices), and with
     * {@code -XX:-UseFPUForSpilling} (which {@code ./erw} passes) the kernel alone went from 0.78 to 0.85-0.86 of the
     * FMA peak and one-thread 2048^3 against OpenBLAS at its best from 0.80 to 0.92. Reported by {@link #describe}
     * so that a benchmark run in another launcher says why it is slower.
     */
    static String fpuSpilling() {
        try {
            return java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                    .getVMOption("UseFPUForSpilling").getValue();
        } catch (RuntimeException | LinkageError e) { // not HotSpot, no such option, no management
            return "";
        }
    }

    private static String cpuVendor() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id")).map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("");
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }

    /**
     * The unified level-2 cache of cpu0 from sysfs ({@code index<i>/level} 2, {@code size} like "2048K"); where a VM hides
     * sysfs's cache directory (seen on a Zen 5 EPYC), glibc's {@code sysconf(_SC_LEVEL2_CACHE_SIZE)}, which reads CPUID; else 0.
     */
    private static long l2Bytes() {
        long sysfs = l2FromSysfs();
        return sysfs > 0 ? sysfs : l2FromSysconf();
    }

    /** glibc's {@code sysconf(_SC_LEVEL2_CACHE_SIZE)} (191 in glibc's unistd constants), 0 without native access or on failure. */
    private static long l2FromSysconf() {
        if (!Sgemm.class.getModule().isNativeAccessEnabled() || !System.getProperty("os.name", "").startsWith("Linux")) return 0;
        try {
            Linker linker = Linker.nativeLinker();
            var sysconf = linker.downcallHandle(linker.defaultLookup().find("sysconf").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            return Math.max(0, (long) sysconf.invokeExact(191));
        } catch (Throwable e) { // no sysconf, no linker (a non-glibc C library may number it otherwise: only sizes > 0 are used)
            return 0;
        }
    }

    private static long l2FromSysfs() {
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; i < 8; i++) {
            Path idx = dir.resolve("index" + i);
            try {
                if (!Files.readString(idx.resolve("level")).trim().equals("2")) continue;
                if (Files.readString(idx.resolve("type")).trim().equals("Instruction")) continue;
                String size = Files.readString(idx.resolve("size")).trim();
                long unit = size.endsWith("K") ? 1024 : size.endsWith("M") ? 1024 * 1024 : 1;
                return Long.parseLong(size.replaceAll("[KM]$", "")) * unit;
            } catch (IOException | NumberFormatException e) {
                // no such index, or unreadable: try the next
            }
        }
        return 0;
    }

    /** Thread-local packing buffers, grown on demand and then reused by every call. */
    private static final class Buffers {
        float[] b = new float[0];
        final float[] a = new float[MC / MR * PANEL];
        final float[] tile = new float[MR * NR];
        /** A's packed panels for a whole row range and one k block, kept for all column blocks ({@link #REUSE_A}). */
        float[] kept = new float[0];
    }

    /** A row of +0: the start of the accumulators when C is overwritten (read with row stride 0). */
    private static final float[] ZERO = new float[NR];

    /**
     * {@code memset(p, 0, 0)}, which writes nothing and returns {@code p}, called as a critical downcall on
     * a heap array: the array's current address, so that the packed B panels can start at a cache line
     * (a B vector that straddles two lines costs the kernel about 8%: 200 vs 217 GFLOP/s per core from L1
     * on the Xeon; 2048^3 on two cores 338-345 -> 368-376 GFLOP/s, 4096x1152x384 353-357 -> 389-394).
     * Java arrays are only 8-byte aligned and the collector may move them, so the address is read at
     * every call (tens of nanoseconds). Null where native access is not granted to erw.engine
     * ({@code --enable-native-access}, which {@code ./erw} passes): then panels start at 0.
     */
    private static final MethodHandle ADDRESS_OF = addressOf();

    private static MethodHandle addressOf() {
        if (!Sgemm.class.getModule().isNativeAccessEnabled()) return null; // no warning, no restricted call
        try {
            Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("memset").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                    Linker.Option.critical(true));
        } catch (RuntimeException e) { // IllegalCallerException without native access, no memset, no linker
            return null;
        }
    }

    /** Floats from {@code a[0]} to the first element of {@code a} at a 64-byte boundary (0-15); 0 when unknown. */
    static int lineOffset(float[] a) {
        if (ADDRESS_OF == null) return 0;
        try {
            long address = ((MemorySegment) ADDRESS_OF.invokeExact(MemorySegment.ofArray(a), 0, 0L)).address();
            return lineOffset(address);
        } catch (Throwable e) {
            return 0;
        }
    }

    /** Floats from {@code address} (4-byte aligned) to the next 64-byte boundary. */
    static int lineOffset(long address) {
        return (int) ((64 - (address & 63)) & 63) >> 2;
    }

    /** Whether packed panels are placed at cache lines (native access granted), for reports. */
    static boolean alignsPanels() {
        return ADDRESS_OF != null;
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /**
     * The warm-up of the micro-kernel, run by the first GEMM (in this holder's initializer, so once per JVM and after
     * Sgemm's own): code C2 compiles while a class is still being initialized carries an initialization barrier and
     * is thrown away ("initialized" deoptimization) as soon as the initializer returns, and was then recompiled from
     * the mixed profile of the first GEMMs: with the warm-up in Sgemm's static initializer, 2048^3 on two threads
     * measured 330-334 GFLOP/s in some JVMs and 357-374 in others (bench gemm, same build).
     */
    private static final class WarmUp {
        static final boolean DONE = run();

        private static boolean run() {
            if (Boolean.parseBoolean(System.getProperty("erw.sgemm.warmup", "true"))) warmUp(Long.getLong("erw.sgemm.warmupMillis", 500L));
            return true;
        }
    }

    /**
     * Runs the main micro-kernel on private operands (full KC steps, C from the zero row) for {@code millis}
     * before the first GEMM ({@link WarmUp}), so that C2 compiles it from one clean profile. Compiled from whatever mix of
     * calls a program makes first, the 12 x 32 kernel spilled two accumulators in about one JVM in ten
     * (3 of 40 runs of the tiny model's training step), whose GEMMs then ran at half speed for the whole run
     * (checked in the compiled code: the spilling runs and only they were slow); after this warm-up none of
     * 48 runs was slow and none of the 16 whose code was checked spilled. Costs {@code millis} once per JVM;
     * {@code -Derw.sgemm.warmup=false} turns it off. Writes nothing outside its own arrays.
     */
    private static void warmUp(long millis) {
        float[] ap = new float[PANEL], bp = new float[KC * NR], c = new float[MR * NR];
        long end = System.nanoTime() + millis * 1_000_000L;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 50; i++) kernel(MR, NV, KC, ap, 0, bp, 0, c, 0, NR, ZERO, 0, 0);
        }
    }

    /**
     * The blocked loop's inner part on private operands, for {@link GemmBenchmark#anatomy}: the main micro-kernel over
     * {@code MC} rows of packed A (micro-panel by micro-panel) times a packed B block of {@code KC x nc} (panel by
     * panel), C accumulated in place ({@code c}: MC x nc). Nothing is packed. Returns the multiply-adds done x 2.
     */
    static long kernelSweep(float[] ap, float[] bp, float[] c, int nc) {
        int boff = lineOffset(bp);
        for (int q = 0; q < MC / MR; q++) {
            for (int jr = 0; jr + NR <= nc; jr += NR) {
                int co = q * MR * nc + jr;
                kernel(MR, NV, KC, ap, q * PANEL, bp, boff + jr * KC, c, co, nc, c, co, nc);
            }
        }
        return 2L * MC * (nc / NR * NR) * KC;
    }

    /** Floats of the operands of {@link #kernelSweep}: packed A, packed B (with room to align), C. */
    static int[] kernelSweepSizes(int nc) {
        return new int[] {MC / MR * PANEL, 15 + KC * nc, MC * nc};
    }

    public static void gemm(WorkerPool pool, boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, boolean accumulate) {
        gemm(pool, transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate, null, 0);
    }

    /**
     * As above with the operands in {@code precision}: every element of A and B is rounded as it is packed
     * ({@link Precision#round}), so the result is exactly the fp32 GEMM of the rounded operands, with the same
     * guarantees; the packed copies are rounded in cache, which costs about one pass over them (nothing for fp32).
     */
    public static void gemm(WorkerPool pool, Precision precision, boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, boolean accumulate, float[] bias, int biasOff) {
        checkRange("B", b, bOff, (long) k * n);
        gemm(pool, precision, transA, transB, m, n, k, a, aOff, b, bOff, null, c, cOff, accumulate, bias, biasOff);
    }

    /**
     * As above; with {@code bias} (n floats from {@code biasOff}, not with accumulate) every row of C
     * starts from the bias instead of zero: C = bias + op(A) op(B), the same arithmetic as filling C
     * with the bias and accumulating, without that extra pass over C.
     */
    public static void gemm(WorkerPool pool, boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, boolean accumulate,
                            float[] bias, int biasOff) {
        checkRange("B", b, bOff, (long) k * n);
        gemm(pool, Precision.FP32, transA, transB, m, n, k, a, aOff, b, bOff, null, c, cOff, accumulate, bias, biasOff);
    }

    /**
     * An operand B (k x n) that is never stored: it writes its blocks straight into the packed layout
     * (convolution's implicit im2col). {@code pack} must be a pure function of its arguments, safe to
     * call from several threads at once.
     */
    interface BPacker {
        /**
         * Writes {@code B[pc, pc+kc) x [jc, jc+nc)} as panels of {@link #NR} columns: panel {@code q}
         * (columns {@code jc + q*NR ...}) at {@code dst[dstOff + q * NR * kc]}, its row p at {@code + (p - pc) * NR},
         * zero past column {@code jc + nc}.
         */
        void pack(int pc, int kc, int jc, int nc, float[] dst, int dstOff);
    }

    /** Columns of a packed B panel (the micro-kernel's width). */
    static int panelWidth() {
        return NR;
    }

    /** {@code C (m x n) [+]= A B} with A stored (m x k) and B given by its packer; the same arithmetic and guarantees as {@link #gemm}. */
    static void gemm(WorkerPool pool, int m, int n, int k, float[] a, int aOff, BPacker b, float[] c, int cOff, boolean accumulate) {
        gemm(pool, Precision.FP32, false, false, m, n, k, a, aOff, null, 0, b, c, cOff, accumulate, null, 0);
    }

    private static void gemm(WorkerPool pool, Precision precision, boolean transA, boolean transB, int m, int n, int k,
                             float[] a, int aOff, float[] b, int bOff, BPacker packer, float[] c, int cOff, boolean accumulate,
                             float[] bias, int biasOff) {
        if (!WarmUp.DONE) throw new AssertionError(); // initializes the holder: the warm-up runs before the first GEMM
        if (bias != null && accumulate) throw new IllegalArgumentException("a GEMM bias initializes C; it cannot be combined with accumulate");
        if (bias != null) checkRange("bias", bias, biasOff, n);
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative GEMM size " + m + "x" + n + "x" + k);
        checkRange("A", a, aOff, (long) m * k);
        checkRange("C", c, cOff, (long) m * n);
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (bias != null) {
                for (int i = 0; i < m; i++) System.arraycopy(bias, biasOff, c, cOff + i * n, n);
            } else if (!accumulate) {
                java.util.Arrays.fill(c, cOff, cOff + m * n, 0f);
            }
            return;
        }
        long work = (long) m * n * k;
        int tilesM = (m + MR - 1) / MR, tilesN = (n + NR - 1) / NR;
        if (work < PARALLEL_MIN || pool.threads() == 1 || (tilesM == 1 && tilesN == 1)) {
            blocked(precision, transA, transB, m, n, k, a, aOff, b, bOff, packer, c, cOff, accumulate, bias, biasOff, 0, m, 0, n);
        } else {
            // Each range packs the operand it shares with the others again (all of B for a row
            // range, all of A for a column range), at memory speed: re-packing a float costs ~25
            // FMAs. So one range per thread, split the way that re-packs less. Weight gradients
            // (small M x N, long K) re-packed a multi-MB B per fine claim and ran at a third of peak.
            int threads = pool.threads();
            long rowsPack = Math.min(tilesM, threads) * (long) k * n + (long) m * k;
            long colsPack = Math.min(tilesN, threads) * (long) m * k + (long) k * n;
            boolean rows = tilesN < threads || (tilesM >= threads && rowsPack <= colsPack);
            int tiles = rows ? tilesM : tilesN, unit = rows ? MR : NR;
            int grain = (tiles + threads - 1) / threads * unit;
            if (rows) {
                pool.parallelFor(m, grain, (lo, hi) ->
                        blocked(precision, transA, transB, m, n, k, a, aOff, b, bOff, packer, c, cOff, accumulate, bias, biasOff, lo, hi, 0, n));
            } else {
                pool.parallelFor(n, grain, (lo, hi) ->
                        blocked(precision, transA, transB, m, n, k, a, aOff, b, bOff, packer, c, cOff, accumulate, bias, biasOff, 0, m, lo, hi));
            }
        }
    }

    /** Fails before any write when an operand does not fit its array. */
    private static void checkRange(String name, float[] x, int off, long len) {
        if (len == 0) return;
        if (off < 0 || off + len > x.length) {
            throw new IndexOutOfBoundsException(name + " needs " + len + " floats from offset " + off
                    + " but its array has " + x.length);
        }
    }

    /** The packed, blocked GEMM restricted to {@code C[m0, m1) x [n0, n1)}, on the calling thread. */
    /**
     * With more than one column block (n > NC), run the k blocks outside the column blocks and pack each k block of A
     * once for the whole row range (at most {@link #KEEP_A_MAX} floats), instead of once per column block.
     * {@code -Derw.sgemm.keepA=false} turns it off. Every element's FMA chain is the same (k blocks in order).
     */
    static final boolean REUSE_A = Boolean.parseBoolean(System.getProperty("erw.sgemm.keepA", "true"));
    private static final long KEEP_A_MAX = 1L << 22;

    private static void blocked(Precision precision, boolean transA, boolean transB, int m, int n, int k,
                                float[] a, int aOff, float[] b, int bOff, BPacker packer, float[] c, int cOff, boolean accumulate,
                                float[] bias, int biasOff, int m0, int m1, int n0, int n1) {
        Buffers buf = BUFFERS.get();
        int need = 15 + Math.min(KC, k) * ((Math.min(NC, n1 - n0) + NR - 1) / NR * NR);
        if (buf.b.length < need) buf.b = new float[need];
        float[] bp = buf.b, ap = buf.a, tile = buf.tile;
        int dropped = precision.droppedBits();
        int boff = lineOffset(bp); // the packed panels start at a cache line
        int jBlocks = (n1 - n0 + NC - 1) / NC, pBlocks = (k + KC - 1) / KC, chunk = MC / MR * PANEL;
        long bigA = (long) ((m1 - m0 + MC - 1) / MC) * chunk;
        boolean keepA = REUSE_A && jBlocks > 1 && bigA <= KEEP_A_MAX; // k blocks outside: A packed once, kept for every column block
        if (keepA && buf.kept.length < bigA) buf.kept = new float[(int) bigA];
        for (int outer = 0; outer < jBlocks * pBlocks; outer++) {
            int jb = keepA ? outer % jBlocks : outer / pBlocks, pb = keepA ? outer / jBlocks : outer % pBlocks;
            int jc = n0 + jb * NC, nc = Math.min(NC, n1 - jc);
            int pc = pb * KC, kc = Math.min(KC, k - pc);
            {
                boolean loadC = accumulate || pc > 0, fromBias = !loadC && bias != null; // else from zero
                if (packer != null) packer.pack(pc, kc, jc, nc, bp, boff);
                else packB(transB, b, bOff, n, k, pc, kc, jc, nc, bp, boff);
                if (dropped > 0) round(bp, boff, (nc + NR - 1) / NR * NR * kc, dropped);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    float[] apc = keepA ? buf.kept : ap;
                    int a0 = keepA ? (ic - m0) / MC * chunk : 0;
                    if (!keepA || jb == 0) {
                        packA(transA, a, aOff, m, k, ic, mc, pc, kc, apc, a0);
                        if (dropped > 0) round(apc, a0, (mc + MR - 1) / MR * PANEL, dropped);
                    }
                    for (int q = 0; q * MR < mc; q++) {
                        int ir = ic + q * MR, mr = Math.min(MR, mc - q * MR);
                        int mk = mr <= MR_EDGE ? MR_EDGE : MR; // rows of the kernel for this panel
                        int ao = a0 + q * PANEL;
                        for (int jr = 0; jr < nc; jr += NR) {
                            int nr = Math.min(NR, nc - jr);
                            int nvk = nr <= VL ? 1 : NV; // vectors of the kernel for this tile
                            int co = cOff + ir * n + jc + jr;
                            if (mr == mk && nr == nvk * VL) {
                                if (loadC) kernel(mk, nvk, kc, apc, ao, bp, boff + jr * kc, c, co, n, c, co, n);
                                else if (fromBias) kernel(mk, nvk, kc, apc, ao, bp, boff + jr * kc, c, co, n, bias, biasOff + jc + jr, 0);
                                else kernel(mk, nvk, kc, apc, ao, bp, boff + jr * kc, c, co, n, ZERO, 0, 0);
                            } else {
                                if (loadC) for (int r = 0; r < mr; r++) System.arraycopy(c, co + r * n, tile, r * NR, nr);
                                if (fromBias) for (int r = 0; r < mr; r++) System.arraycopy(bias, biasOff + jc + jr, tile, r * NR, nr);
                                if (loadC || fromBias) kernel(mk, nvk, kc, apc, ao, bp, boff + jr * kc, tile, 0, NR, tile, 0, NR);
                                else kernel(mk, nvk, kc, apc, ao, bp, boff + jr * kc, tile, 0, NR, ZERO, 0, 0);
                                for (int r = 0; r < mr; r++) System.arraycopy(tile, r * NR, c, co + r * n, nr);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * {@link Precision#roundBits} on {@code x[from, from + len)} in place, a vector at a time: add half an ulp of
     * the kept part minus one, plus its lowest kept bit (ties to even), then clear the dropped bits; NaNs are
     * kept (quiet) NaNs. Zero padding stays zero.
     */
    static void round(float[] x, int from, int len, int dropped) {
        int half = (1 << (dropped - 1)) - 1, keep = -1 << dropped, i = from, end = from + len;
        for (int ub = from + IS.loopBound(len); i < ub; i += IS.length()) {
            IntVector bits = FloatVector.fromArray(S, x, i).reinterpretAsInts();
            IntVector even = bits.lanewise(VectorOperators.LSHR, dropped).and(1);
            IntVector r = bits.add(half).add(even).and(keep);
            VectorMask<Integer> nan = bits.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            r = r.blend(bits.or(0x00400000).and(keep), nan);
            r.reinterpretAsFloats().intoArray(x, i);
        }
        for (; i < end; i++) x[i] = Float.intBitsToFloat(Precision.roundBits(Float.floatToRawIntBits(x[i]), dropped));
    }

    /**
     * Packs {@code op(B)[pc, pc+kc) x [jc, jc+nc)} as panels of NR columns, each panel kc rows of NR
     * contiguous floats (zero-padded past nc), panel {@code q} at {@code q * NR * kc}. A kernel
     * using one vector per row reads the same layout (it touches the first VL floats of each row).
     */
    private static void packB(boolean transB, float[] b, int bOff, int n, int k, int pc, int kc, int jc, int nc,
                              float[] bp, int bpOff) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int base = bpOff + jr * kc;
            if (!transB) {
                int src = bOff + pc * n + jc + jr;
                if (nr == NR) {
                    for (int p = 0; p < kc; p++, src += n) {
                        int d = base + p * NR;
                        for (int v = 0; v < NR; v += VL) FloatVector.fromArray(S, b, src + v).intoArray(bp, d + v);
                    }
                } else {
                    for (int p = 0; p < kc; p++, src += n) {
                        int d = base + p * NR;
                        System.arraycopy(b, src, bp, d, nr);
                        java.util.Arrays.fill(bp, d + nr, d + NR, 0f);
                    }
                }
            } else {
                // B stored (n x k): column j of op(B) is a contiguous row of B. Whole 16 x 16 blocks
                // are transposed in registers; the rest goes element by element, TP values of p at a
                // time so that the NR-strided stores stay within a few L1 lines.
                int src = bOff + (jc + jr) * k + pc;
                int pv = TRANSPOSE16 ? kc / 16 * 16 : 0, jv = TRANSPOSE16 ? nr / 16 * 16 : 0;
                for (int j = 0; j < jv; j += 16) {
                    for (int p = 0; p < pv; p += 16) transpose16(b, src + j * k + p, k, bp, base + p * NR + j, NR);
                }
                for (int p0 = 0; p0 < kc; p0 += TP) {
                    int p1 = Math.min(kc, p0 + TP);
                    for (int j = 0; j < nr; j++) {
                        for (int p = j < jv ? Math.max(p0, pv) : p0; p < p1; p++) bp[base + p * NR + j] = b[src + j * k + p];
                    }
                    if (nr < NR) {
                        for (int p = p0; p < p1; p++) java.util.Arrays.fill(bp, base + p * NR + nr, base + (p + 1) * NR, 0f);
                    }
                }
            }
        }
    }

    /**
     * Packs rows {@code [ic, ic+mc)} of {@code op(A)}, columns {@code [pc, pc+kc)}, as panels of MR
     * rows, panel {@code q} at {@code q * MR * AS}, its row {@code r} at {@code + r * AS}: the
     * kernels read the MR values of one p at fixed distances AS apart (addressing immediates). A
     * last panel of at most MR_EDGE rows is padded with zero rows to MR_EDGE, any other to MR.
     */
    private static void packA(boolean transA, float[] a, int aOff, int m, int k, int ic, int mc, int pc, int kc,
                              float[] ap, int apOff) {
        if (BCAST) {
            // micro-panel q at q * PANEL, its step p at + p * MR * VL, row r at + r * VL: VL copies each
            int last = (mc - 1) / MR, rows = mc - last * MR, mk = rows <= MR_EDGE ? MR_EDGE : MR;
            for (int r = 0; r < last * MR + mk; r++) {
                int d = apOff + (r / MR) * PANEL + (r % MR) * VL;
                if (r >= mc) {
                    for (int p = 0; p < kc; p++) FloatVector.zero(S).intoArray(ap, d + p * MR * VL);
                } else if (!transA) {
                    int src = aOff + (ic + r) * k + pc;
                    for (int p = 0; p < kc; p++) FloatVector.broadcast(S, a[src + p]).intoArray(ap, d + p * MR * VL);
                } else {
                    int src = aOff + pc * m + ic + r;
                    for (int p = 0; p < kc; p++) FloatVector.broadcast(S, a[src + p * m]).intoArray(ap, d + p * MR * VL);
                }
            }
            return;
        }
        if (!transA) {
            // rows of A are contiguous in p: one copy per row
            for (int r = 0; r < mc; r++) {
                System.arraycopy(a, aOff + (ic + r) * k + pc, ap, apOff + r * AS, kc);
            }
        } else {
            // A stored (k x m): the mc values of one p are contiguous. Row r of the block goes to
            // r * AS (panels are MR rows of AS floats, back to back), so 16 x 16 blocks transpose in
            // registers; the rest goes element by element, a row of A^T (MC floats) at a time.
            int src = aOff + pc * m + ic;
            int pv = TRANSPOSE16 ? kc / 16 * 16 : 0, rv = TRANSPOSE16 ? mc / 16 * 16 : 0;
            for (int p = 0; p < pv; p += 16) {
                for (int r = 0; r < rv; r += 16) transpose16(a, src + p * m + r, m, ap, apOff + r * AS + p, AS);
            }
            for (int p = 0; p < kc; p++) {
                for (int r = p < pv ? rv : 0; r < mc; r++) ap[apOff + r * AS + p] = a[src + p * m + r];
            }
        }
        int last = (mc - 1) / MR, rows = mc - last * MR;
        int mk = rows <= MR_EDGE ? MR_EDGE : MR;
        for (int r = rows; r < mk; r++) {
            int d = apOff + last * MR * AS + r * AS;
            java.util.Arrays.fill(ap, d, d + kc, 0f);
        }
    }

    /**
     * Index vectors of the 4-stage butterfly transpose: at stage s (distance 1, 2, 4, 8) rows x and
     * y = x + s become {@code LO.selectFrom(x, y)} and {@code HI.selectFrom(x, y)} (two-vector
     * permutes, one vpermt2ps each with AVX-512).
     */
    private static final FloatVector[] T_LO = new FloatVector[4], T_HI = new FloatVector[4];

    static {
        if (TRANSPOSE16) {
            for (int st = 0; st < 4; st++) {
                int s = 1 << st;
                float[] lo = new float[16], hi = new float[16];
                for (int l = 0; l < 16; l++) {
                    boolean first = (l & s) == 0;
                    lo[l] = first ? l : 16 + l - s;
                    hi[l] = first ? l + s : 16 + l;
                }
                T_LO[st] = FloatVector.fromArray(S, lo, 0);
                T_HI[st] = FloatVector.fromArray(S, hi, 0);
            }
        }
    }

    /**
     * {@code d[dOff + j * ds + i] = s[so + i * ss + j]} for i, j in [0, 16): a 16 x 16 transpose in
     * registers, 16 loads, 64 permutes and 16 stores instead of 256 scalar moves with strided stores.
     */
    private static void transpose16(float[] s, int so, int ss, float[] d, int dOff, int ds) {
        FloatVector l0 = T_LO[0], h0 = T_HI[0], l1 = T_LO[1], h1 = T_HI[1], l2 = T_LO[2], h2 = T_HI[2], l3 = T_LO[3], h3 = T_HI[3];
        FloatVector r0 = FloatVector.fromArray(S, s, so), r1 = FloatVector.fromArray(S, s, so + ss);
        FloatVector r2 = FloatVector.fromArray(S, s, so + 2 * ss), r3 = FloatVector.fromArray(S, s, so + 3 * ss);
        FloatVector r4 = FloatVector.fromArray(S, s, so + 4 * ss), r5 = FloatVector.fromArray(S, s, so + 5 * ss);
        FloatVector r6 = FloatVector.fromArray(S, s, so + 6 * ss), r7 = FloatVector.fromArray(S, s, so + 7 * ss);
        FloatVector r8 = FloatVector.fromArray(S, s, so + 8 * ss), r9 = FloatVector.fromArray(S, s, so + 9 * ss);
        FloatVector r10 = FloatVector.fromArray(S, s, so + 10 * ss), r11 = FloatVector.fromArray(S, s, so + 11 * ss);
        FloatVector r12 = FloatVector.fromArray(S, s, so + 12 * ss), r13 = FloatVector.fromArray(S, s, so + 13 * ss);
        FloatVector r14 = FloatVector.fromArray(S, s, so + 14 * ss), r15 = FloatVector.fromArray(S, s, so + 15 * ss);
        FloatVector a0 = l0.selectFrom(r0, r1), a1 = h0.selectFrom(r0, r1);
        FloatVector a2 = l0.selectFrom(r2, r3), a3 = h0.selectFrom(r2, r3);
        FloatVector a4 = l0.selectFrom(r4, r5), a5 = h0.selectFrom(r4, r5);
        FloatVector a6 = l0.selectFrom(r6, r7), a7 = h0.selectFrom(r6, r7);
        FloatVector a8 = l0.selectFrom(r8, r9), a9 = h0.selectFrom(r8, r9);
        FloatVector a10 = l0.selectFrom(r10, r11), a11 = h0.selectFrom(r10, r11);
        FloatVector a12 = l0.selectFrom(r12, r13), a13 = h0.selectFrom(r12, r13);
        FloatVector a14 = l0.selectFrom(r14, r15), a15 = h0.selectFrom(r14, r15);
        FloatVector b0 = l1.selectFrom(a0, a2), b2 = h1.selectFrom(a0, a2);
        FloatVector b1 = l1.selectFrom(a1, a3), b3 = h1.selectFrom(a1, a3);
        FloatVector b4 = l1.selectFrom(a4, a6), b6 = h1.selectFrom(a4, a6);
        FloatVector b5 = l1.selectFrom(a5, a7), b7 = h1.selectFrom(a5, a7);
        FloatVector b8 = l1.selectFrom(a8, a10), b10 = h1.selectFrom(a8, a10);
        FloatVector b9 = l1.selectFrom(a9, a11), b11 = h1.selectFrom(a9, a11);
        FloatVector b12 = l1.selectFrom(a12, a14), b14 = h1.selectFrom(a12, a14);
        FloatVector b13 = l1.selectFrom(a13, a15), b15 = h1.selectFrom(a13, a15);
        FloatVector c0 = l2.selectFrom(b0, b4), c4 = h2.selectFrom(b0, b4);
        FloatVector c1 = l2.selectFrom(b1, b5), c5 = h2.selectFrom(b1, b5);
        FloatVector c2 = l2.selectFrom(b2, b6), c6 = h2.selectFrom(b2, b6);
        FloatVector c3 = l2.selectFrom(b3, b7), c7 = h2.selectFrom(b3, b7);
        FloatVector c8 = l2.selectFrom(b8, b12), c12 = h2.selectFrom(b8, b12);
        FloatVector c9 = l2.selectFrom(b9, b13), c13 = h2.selectFrom(b9, b13);
        FloatVector c10 = l2.selectFrom(b10, b14), c14 = h2.selectFrom(b10, b14);
        FloatVector c11 = l2.selectFrom(b11, b15), c15 = h2.selectFrom(b11, b15);
        FloatVector t0 = l3.selectFrom(c0, c8), t8 = h3.selectFrom(c0, c8);
        FloatVector t1 = l3.selectFrom(c1, c9), t9 = h3.selectFrom(c1, c9);
        FloatVector t2 = l3.selectFrom(c2, c10), t10 = h3.selectFrom(c2, c10);
        FloatVector t3 = l3.selectFrom(c3, c11), t11 = h3.selectFrom(c3, c11);
        FloatVector t4 = l3.selectFrom(c4, c12), t12 = h3.selectFrom(c4, c12);
        FloatVector t5 = l3.selectFrom(c5, c13), t13 = h3.selectFrom(c5, c13);
        FloatVector t6 = l3.selectFrom(c6, c14), t14 = h3.selectFrom(c6, c14);
        FloatVector t7 = l3.selectFrom(c7, c15), t15 = h3.selectFrom(c7, c15);
        t0.intoArray(d, dOff); t1.intoArray(d, dOff + ds);
        t2.intoArray(d, dOff + 2 * ds); t3.intoArray(d, dOff + 3 * ds);
        t4.intoArray(d, dOff + 4 * ds); t5.intoArray(d, dOff + 5 * ds);
        t6.intoArray(d, dOff + 6 * ds); t7.intoArray(d, dOff + 7 * ds);
        t8.intoArray(d, dOff + 8 * ds); t9.intoArray(d, dOff + 9 * ds);
        t10.intoArray(d, dOff + 10 * ds); t11.intoArray(d, dOff + 11 * ds);
        t12.intoArray(d, dOff + 12 * ds); t13.intoArray(d, dOff + 13 * ds);
        t14.intoArray(d, dOff + 14 * ds); t15.intoArray(d, dOff + 15 * ds);
    }

    private static void kernel(int mk, int nvk, int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co,
                               int ldc, float[] ini, int io, int ldi) {
        if (mk == MR_EDGE) {
            if (nvk == NV) k4x2(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
            else k4x1(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
        } else if (MR == 12) {
            if (nvk == NV) k12x2(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
            else k12x1(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
        } else {
            if (nvk == NV) k6x2(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
            else k6x1(kc, ap, ao, bp, bo, c, co, ldc, ini, io, ldi);
        }
    }

    // ---- micro-kernels -------------------------------------------------------------------------
    // kRxV: C[R rows x V vectors] (row stride ldc) = INI + sum_p a_p (x) b_p (INI: C itself, a bias row
    // repeated with ldi = 0, or ZERO with ldi = 0: always loaded, since a branch between a loaded and a
    // zero start made C2 spill the accumulators in the k loop on some profiles), one FMA per
    // accumulator per p in increasing p. ap from ao: R rows of kc floats, AS apart; bp from bo: kc rows
    // of NR floats.
    // Unrolled by hand (generated) so that C2 keeps every accumulator in a register.

    private static void k12x2(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        FloatVector c60, c61, c70, c71, c80, c81, c90, c91, c100, c101, c110, c111;
        c00 = FloatVector.fromArray(S, ini, io); c01 = FloatVector.fromArray(S, ini, io + VL);
        c10 = FloatVector.fromArray(S, ini, io + ldi); c11 = FloatVector.fromArray(S, ini, io + ldi + VL);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi); c21 = FloatVector.fromArray(S, ini, io + 2 * ldi + VL);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi); c31 = FloatVector.fromArray(S, ini, io + 3 * ldi + VL);
        c40 = FloatVector.fromArray(S, ini, io + 4 * ldi); c41 = FloatVector.fromArray(S, ini, io + 4 * ldi + VL);
        c50 = FloatVector.fromArray(S, ini, io + 5 * ldi); c51 = FloatVector.fromArray(S, ini, io + 5 * ldi + VL);
        c60 = FloatVector.fromArray(S, ini, io + 6 * ldi); c61 = FloatVector.fromArray(S, ini, io + 6 * ldi + VL);
        c70 = FloatVector.fromArray(S, ini, io + 7 * ldi); c71 = FloatVector.fromArray(S, ini, io + 7 * ldi + VL);
        c80 = FloatVector.fromArray(S, ini, io + 8 * ldi); c81 = FloatVector.fromArray(S, ini, io + 8 * ldi + VL);
        c90 = FloatVector.fromArray(S, ini, io + 9 * ldi); c91 = FloatVector.fromArray(S, ini, io + 9 * ldi + VL);
        c100 = FloatVector.fromArray(S, ini, io + 10 * ldi); c101 = FloatVector.fromArray(S, ini, io + 10 * ldi + VL);
        c110 = FloatVector.fromArray(S, ini, io + 11 * ldi); c111 = FloatVector.fromArray(S, ini, io + 11 * ldi + VL);
        for (int h = 0, half = kc >> 1; h < half; h++) { // two steps per iteration: half the loop overhead
            int ai = ao + 2 * h * AINC, bi = bo + 2 * h * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + ASTEP]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2 * ASTEP]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3 * ASTEP]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4 * ASTEP]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5 * ASTEP]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[ai + 6 * ASTEP]);
            c60 = a6.fma(b0, c60); c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[ai + 7 * ASTEP]);
            c70 = a7.fma(b0, c70); c71 = a7.fma(b1, c71);
            FloatVector a8 = FloatVector.broadcast(S, ap[ai + 8 * ASTEP]);
            c80 = a8.fma(b0, c80); c81 = a8.fma(b1, c81);
            FloatVector a9 = FloatVector.broadcast(S, ap[ai + 9 * ASTEP]);
            c90 = a9.fma(b0, c90); c91 = a9.fma(b1, c91);
            FloatVector a10 = FloatVector.broadcast(S, ap[ai + 10 * ASTEP]);
            c100 = a10.fma(b0, c100); c101 = a10.fma(b1, c101);
            FloatVector a11 = FloatVector.broadcast(S, ap[ai + 11 * ASTEP]);
            c110 = a11.fma(b0, c110); c111 = a11.fma(b1, c111);
            FloatVector d0 = FloatVector.fromArray(S, bp, bi + NR);
            FloatVector d1 = FloatVector.fromArray(S, bp, bi + NR + VL);
            FloatVector e0 = FloatVector.broadcast(S, ap[ai + AINC]);
            c00 = e0.fma(d0, c00); c01 = e0.fma(d1, c01);
            FloatVector e1 = FloatVector.broadcast(S, ap[ai + AINC + ASTEP]);
            c10 = e1.fma(d0, c10); c11 = e1.fma(d1, c11);
            FloatVector e2 = FloatVector.broadcast(S, ap[ai + AINC + 2 * ASTEP]);
            c20 = e2.fma(d0, c20); c21 = e2.fma(d1, c21);
            FloatVector e3 = FloatVector.broadcast(S, ap[ai + AINC + 3 * ASTEP]);
            c30 = e3.fma(d0, c30); c31 = e3.fma(d1, c31);
            FloatVector e4 = FloatVector.broadcast(S, ap[ai + AINC + 4 * ASTEP]);
            c40 = e4.fma(d0, c40); c41 = e4.fma(d1, c41);
            FloatVector e5 = FloatVector.broadcast(S, ap[ai + AINC + 5 * ASTEP]);
            c50 = e5.fma(d0, c50); c51 = e5.fma(d1, c51);
            FloatVector e6 = FloatVector.broadcast(S, ap[ai + AINC + 6 * ASTEP]);
            c60 = e6.fma(d0, c60); c61 = e6.fma(d1, c61);
            FloatVector e7 = FloatVector.broadcast(S, ap[ai + AINC + 7 * ASTEP]);
            c70 = e7.fma(d0, c70); c71 = e7.fma(d1, c71);
            FloatVector e8 = FloatVector.broadcast(S, ap[ai + AINC + 8 * ASTEP]);
            c80 = e8.fma(d0, c80); c81 = e8.fma(d1, c81);
            FloatVector e9 = FloatVector.broadcast(S, ap[ai + AINC + 9 * ASTEP]);
            c90 = e9.fma(d0, c90); c91 = e9.fma(d1, c91);
            FloatVector e10 = FloatVector.broadcast(S, ap[ai + AINC + 10 * ASTEP]);
            c100 = e10.fma(d0, c100); c101 = e10.fma(d1, c101);
            FloatVector e11 = FloatVector.broadcast(S, ap[ai + AINC + 11 * ASTEP]);
            c110 = e11.fma(d0, c110); c111 = e11.fma(d1, c111);
        }
        if ((kc & 1) != 0) {
            int ai = ao + (kc - 1) * AINC, bi = bo + (kc - 1) * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + ASTEP]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2 * ASTEP]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3 * ASTEP]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4 * ASTEP]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5 * ASTEP]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[ai + 6 * ASTEP]);
            c60 = a6.fma(b0, c60); c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[ai + 7 * ASTEP]);
            c70 = a7.fma(b0, c70); c71 = a7.fma(b1, c71);
            FloatVector a8 = FloatVector.broadcast(S, ap[ai + 8 * ASTEP]);
            c80 = a8.fma(b0, c80); c81 = a8.fma(b1, c81);
            FloatVector a9 = FloatVector.broadcast(S, ap[ai + 9 * ASTEP]);
            c90 = a9.fma(b0, c90); c91 = a9.fma(b1, c91);
            FloatVector a10 = FloatVector.broadcast(S, ap[ai + 10 * ASTEP]);
            c100 = a10.fma(b0, c100); c101 = a10.fma(b1, c101);
            FloatVector a11 = FloatVector.broadcast(S, ap[ai + 11 * ASTEP]);
            c110 = a11.fma(b0, c110); c111 = a11.fma(b1, c111);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + VL);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + VL);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + VL);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + VL);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + VL);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + VL);
        c60.intoArray(c, co + 6 * ldc); c61.intoArray(c, co + 6 * ldc + VL);
        c70.intoArray(c, co + 7 * ldc); c71.intoArray(c, co + 7 * ldc + VL);
        c80.intoArray(c, co + 8 * ldc); c81.intoArray(c, co + 8 * ldc + VL);
        c90.intoArray(c, co + 9 * ldc); c91.intoArray(c, co + 9 * ldc + VL);
        c100.intoArray(c, co + 10 * ldc); c101.intoArray(c, co + 10 * ldc + VL);
        c110.intoArray(c, co + 11 * ldc); c111.intoArray(c, co + 11 * ldc + VL);
    }

    private static void k12x1(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c10, c20, c30, c40, c50, c60, c70, c80, c90, c100, c110;
        c00 = FloatVector.fromArray(S, ini, io);
        c10 = FloatVector.fromArray(S, ini, io + ldi);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi);
        c40 = FloatVector.fromArray(S, ini, io + 4 * ldi);
        c50 = FloatVector.fromArray(S, ini, io + 5 * ldi);
        c60 = FloatVector.fromArray(S, ini, io + 6 * ldi);
        c70 = FloatVector.fromArray(S, ini, io + 7 * ldi);
        c80 = FloatVector.fromArray(S, ini, io + 8 * ldi);
        c90 = FloatVector.fromArray(S, ini, io + 9 * ldi);
        c100 = FloatVector.fromArray(S, ini, io + 10 * ldi);
        c110 = FloatVector.fromArray(S, ini, io + 11 * ldi);
        for (int p = 0, ai = ao, bi = bo; p < kc; p++, ai += AINC, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + ASTEP]);
            c10 = a1.fma(b0, c10);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2 * ASTEP]);
            c20 = a2.fma(b0, c20);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3 * ASTEP]);
            c30 = a3.fma(b0, c30);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4 * ASTEP]);
            c40 = a4.fma(b0, c40);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5 * ASTEP]);
            c50 = a5.fma(b0, c50);
            FloatVector a6 = FloatVector.broadcast(S, ap[ai + 6 * ASTEP]);
            c60 = a6.fma(b0, c60);
            FloatVector a7 = FloatVector.broadcast(S, ap[ai + 7 * ASTEP]);
            c70 = a7.fma(b0, c70);
            FloatVector a8 = FloatVector.broadcast(S, ap[ai + 8 * ASTEP]);
            c80 = a8.fma(b0, c80);
            FloatVector a9 = FloatVector.broadcast(S, ap[ai + 9 * ASTEP]);
            c90 = a9.fma(b0, c90);
            FloatVector a10 = FloatVector.broadcast(S, ap[ai + 10 * ASTEP]);
            c100 = a10.fma(b0, c100);
            FloatVector a11 = FloatVector.broadcast(S, ap[ai + 11 * ASTEP]);
            c110 = a11.fma(b0, c110);
        }
        c00.intoArray(c, co);
        c10.intoArray(c, co + ldc);
        c20.intoArray(c, co + 2 * ldc);
        c30.intoArray(c, co + 3 * ldc);
        c40.intoArray(c, co + 4 * ldc);
        c50.intoArray(c, co + 5 * ldc);
        c60.intoArray(c, co + 6 * ldc);
        c70.intoArray(c, co + 7 * ldc);
        c80.intoArray(c, co + 8 * ldc);
        c90.intoArray(c, co + 9 * ldc);
        c100.intoArray(c, co + 10 * ldc);
        c110.intoArray(c, co + 11 * ldc);
    }

    private static void k6x2(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.fromArray(S, ini, io); c01 = FloatVector.fromArray(S, ini, io + VL);
        c10 = FloatVector.fromArray(S, ini, io + ldi); c11 = FloatVector.fromArray(S, ini, io + ldi + VL);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi); c21 = FloatVector.fromArray(S, ini, io + 2 * ldi + VL);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi); c31 = FloatVector.fromArray(S, ini, io + 3 * ldi + VL);
        c40 = FloatVector.fromArray(S, ini, io + 4 * ldi); c41 = FloatVector.fromArray(S, ini, io + 4 * ldi + VL);
        c50 = FloatVector.fromArray(S, ini, io + 5 * ldi); c51 = FloatVector.fromArray(S, ini, io + 5 * ldi + VL);
        for (int p = 0, ai = ao, bi = bo; p < kc; p++, ai += AINC, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = FloatVector.fromArray(S, ap, ai);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.fromArray(S, ap, ai + ASTEP);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.fromArray(S, ap, ai + 2 * ASTEP);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.fromArray(S, ap, ai + 3 * ASTEP);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.fromArray(S, ap, ai + 4 * ASTEP);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.fromArray(S, ap, ai + 5 * ASTEP);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + VL);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + VL);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + VL);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + VL);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + VL);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + VL);
    }

    private static void k6x1(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c10, c20, c30, c40, c50;
        c00 = FloatVector.fromArray(S, ini, io);
        c10 = FloatVector.fromArray(S, ini, io + ldi);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi);
        c40 = FloatVector.fromArray(S, ini, io + 4 * ldi);
        c50 = FloatVector.fromArray(S, ini, io + 5 * ldi);
        for (int p = 0, ai = ao, bi = bo; p < kc; p++, ai += AINC, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector a0 = FloatVector.fromArray(S, ap, ai);
            c00 = a0.fma(b0, c00);
            FloatVector a1 = FloatVector.fromArray(S, ap, ai + ASTEP);
            c10 = a1.fma(b0, c10);
            FloatVector a2 = FloatVector.fromArray(S, ap, ai + 2 * ASTEP);
            c20 = a2.fma(b0, c20);
            FloatVector a3 = FloatVector.fromArray(S, ap, ai + 3 * ASTEP);
            c30 = a3.fma(b0, c30);
            FloatVector a4 = FloatVector.fromArray(S, ap, ai + 4 * ASTEP);
            c40 = a4.fma(b0, c40);
            FloatVector a5 = FloatVector.fromArray(S, ap, ai + 5 * ASTEP);
            c50 = a5.fma(b0, c50);
        }
        c00.intoArray(c, co);
        c10.intoArray(c, co + ldc);
        c20.intoArray(c, co + 2 * ldc);
        c30.intoArray(c, co + 3 * ldc);
        c40.intoArray(c, co + 4 * ldc);
        c50.intoArray(c, co + 5 * ldc);
    }

    private static void k4x2(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        c00 = FloatVector.fromArray(S, ini, io); c01 = FloatVector.fromArray(S, ini, io + VL);
        c10 = FloatVector.fromArray(S, ini, io + ldi); c11 = FloatVector.fromArray(S, ini, io + ldi + VL);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi); c21 = FloatVector.fromArray(S, ini, io + 2 * ldi + VL);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi); c31 = FloatVector.fromArray(S, ini, io + 3 * ldi + VL);
        for (int p = 0, ai = ao, bi = bo; p < kc; p++, ai += AINC, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = (BCAST ? FloatVector.fromArray(S, ap, ai) : FloatVector.broadcast(S, ap[ai]));
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01);
            FloatVector a1 = (BCAST ? FloatVector.fromArray(S, ap, ai + ASTEP) : FloatVector.broadcast(S, ap[ai + ASTEP]));
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11);
            FloatVector a2 = (BCAST ? FloatVector.fromArray(S, ap, ai + 2 * ASTEP) : FloatVector.broadcast(S, ap[ai + 2 * ASTEP]));
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21);
            FloatVector a3 = (BCAST ? FloatVector.fromArray(S, ap, ai + 3 * ASTEP) : FloatVector.broadcast(S, ap[ai + 3 * ASTEP]));
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + VL);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + VL);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + VL);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + VL);
    }

    private static void k4x1(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc,
                              float[] ini, int io, int ldi) {
        FloatVector c00, c10, c20, c30;
        c00 = FloatVector.fromArray(S, ini, io);
        c10 = FloatVector.fromArray(S, ini, io + ldi);
        c20 = FloatVector.fromArray(S, ini, io + 2 * ldi);
        c30 = FloatVector.fromArray(S, ini, io + 3 * ldi);
        for (int p = 0, ai = ao, bi = bo; p < kc; p++, ai += AINC, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector a0 = (BCAST ? FloatVector.fromArray(S, ap, ai) : FloatVector.broadcast(S, ap[ai]));
            c00 = a0.fma(b0, c00);
            FloatVector a1 = (BCAST ? FloatVector.fromArray(S, ap, ai + ASTEP) : FloatVector.broadcast(S, ap[ai + ASTEP]));
            c10 = a1.fma(b0, c10);
            FloatVector a2 = (BCAST ? FloatVector.fromArray(S, ap, ai + 2 * ASTEP) : FloatVector.broadcast(S, ap[ai + 2 * ASTEP]));
            c20 = a2.fma(b0, c20);
            FloatVector a3 = (BCAST ? FloatVector.fromArray(S, ap, ai + 3 * ASTEP) : FloatVector.broadcast(S, ap[ai + 3 * ASTEP]));
            c30 = a3.fma(b0, c30);
        }
        c00.intoArray(c, co);
        c10.intoArray(c, co + ldc);
        c20.intoArray(c, co + 2 * ldc);
        c30.intoArray(c, co + 3 * ldc);
    }
}
