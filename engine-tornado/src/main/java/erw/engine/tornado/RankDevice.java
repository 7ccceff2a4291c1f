package erw.engine.tornado;

import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * Which device a process of a data-parallel job runs on. TornadoVM runs every plan on its default
 * device (backend {@code -Dtornado.backend}, device {@code -Dtornado.device}, both 0 unless given), so
 * eight ranks on an eight-GPU machine would all share GPU 0. When the launcher says which local rank
 * this process is and {@code -Dtornado.device} is not given, local rank r runs on device r modulo the
 * default backend's devices, as {@code torch.cuda.set_device(LOCAL_RANK)} does.
 */
final class RankDevice {
    private RankDevice() {}

    /** Local-rank variables of the launchers erw documents: torchrun, Open MPI, Slurm's srun, MPICH / Intel MPI. */
    static final List<String> LOCAL_RANK_VARIABLES = List.of("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID");

    /**
     * The device index for this process, or -1 for TornadoVM's default: {@code deviceProperty} (the
     * {@code tornado.device} system property) set, no local rank in {@code env}, or no device.
     */
    static int index(Map<String, String> env, String deviceProperty, int devices) {
        if (deviceProperty != null || devices < 1) return -1;
        for (String v : LOCAL_RANK_VARIABLES) {
            String s = env.get(v);
            if (s == null || s.isBlank()) continue;
            try {
                int r = Integer.parseInt(s.trim());
                return r < 0 ? -1 : r % devices;
            } catch (NumberFormatException e) {
                return -1; // not a rank: leave the choice to TornadoVM
            }
        }
        return -1;
    }

    /**
     * A {@code -Dtornado.device} given on the command line (ERW_JAVA_OPTS), or null. Not the system
     * property: TornadoVM copies its etc/tornado.properties ({@code tornado.device = 0}) into the system
     * properties when it starts, so the property is always there.
     */
    static String deviceOption() {
        String v = null;
        for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-Dtornado.device=")) v = a.substring("-Dtornado.device=".length());
        }
        return v;
    }

    /** This process's device, or null for TornadoVM's default; resolved once. */
    static TornadoDevice device() {
        return Holder.DEVICE;
    }

    /**
     * Whether this process's GEMMs run in cuBLAS as library tasks: the device is on TornadoVM's CUDA backend, the
     * only one that runs library tasks (on OpenCL and PTX they report UNSUPPORTED), unless
     * {@code -Derw.tornado.cublas=false} keeps the JIT-compiled GEMM kernel there too (to compare the two).
     */
    static boolean libraryGemm() {
        return Holder.LIBRARY_GEMM;
    }

    /** The backend of this process's device (TornadoVM's default device when no rank chose one). */
    static TornadoVMBackendType backendType() {
        return Holder.BACKEND;
    }

    /**
     * Whether this process's execution plans are captured as CUDA graphs ({@code -Derw.tornado.cudaGraph=true}): each
     * TaskGraph's transfers and launches (kernels and cuBLAS calls) are recorded on its first execution and replayed as one
     * graph launch after, instead of TornadoVM's interpreter issuing every launch. TornadoVM 5.2 captures on its PTX and
     * CUDA backends only (OpenCL has no graphs), so asking for it on another backend is an error.
     */
    static boolean cudaGraph() {
        return Holder.CUDA_GRAPH;
    }

    /** The error for {@code -Derw.tornado.cudaGraph=true} on a backend without CUDA graphs, or null when the option is valid. */
    static String cudaGraphError(boolean asked, TornadoVMBackendType backend) {
        if (!asked || backend == TornadoVMBackendType.PTX || backend == TornadoVMBackendType.CUDA) return null;
        return "-Derw.tornado.cudaGraph=true needs TornadoVM's PTX or CUDA backend; this process's device is on " + backend
                + " (choose the backend with -Dtornado.backend, or drop the option)";
    }

    private static final class Holder {
        static final TornadoDevice DEVICE = resolve();
        static final TornadoVMBackendType BACKEND = backend();
        static final boolean LIBRARY_GEMM = !"false".equals(System.getProperty("erw.tornado.cublas")) && BACKEND == TornadoVMBackendType.CUDA;
        static final boolean CUDA_GRAPH = Boolean.getBoolean("erw.tornado.cudaGraph");

        /**
         * The device's backend; for TornadoVM's virtual device ({@code -Dtornado.virtual.device=true}: code generation
         * only) the backend that made it, so the lowering is the one that backend's real devices get.
         */
        private static TornadoVMBackendType backend() {
            TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
            TornadoVMBackendType t = (DEVICE != null ? DEVICE : rt.getDefaultDevice()).getTornadoVMBackend();
            return t == TornadoVMBackendType.VIRTUAL ? rt.getBackendType(Math.max(0, Integer.getInteger("tornado.backend", 0))) : t;
        }

        private static TornadoDevice resolve() {
            TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
            int backend = Integer.getInteger("tornado.backend", 0);
            if (backend < 0 || backend >= rt.getNumBackends()) return null;
            var b = rt.getBackend(backend);
            int i = index(System.getenv(), deviceOption(), b.getNumDevices());
            if (i < 0) return null;
            TornadoDevice d = b.getDevice(i);
            if (Boolean.getBoolean("erw.tornado.verbose")) System.err.println("[erw tornado] local rank's device: " + i + " of " + b.getNumDevices() + " (" + d.getDescription() + ")");
            return d;
        }
    }
}
