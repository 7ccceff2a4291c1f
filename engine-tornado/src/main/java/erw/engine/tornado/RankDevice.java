package erw.engine.tornado;

import java.util.List;
import java.util.Map;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
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

    private static final class Holder {
        static final TornadoDevice DEVICE = resolve();
        static final boolean LIBRARY_GEMM = !"false".equals(System.getProperty("erw.tornado.cublas"))
                && (DEVICE != null ? DEVICE : TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice()).getTornadoVMBackend()
                        == uk.ac.manchester.tornado.api.enums.TornadoVMBackendType.CUDA;

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
