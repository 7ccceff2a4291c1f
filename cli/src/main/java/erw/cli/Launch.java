package erw.cli;

import erw.distributed.Mpi;
import erw.distributed.MpiCollective;
import erw.training.Collective;
import java.util.Map;

/**
 * How this process was launched: alone, or as one rank of a data-parallel job started by an MPI
 * launcher ({@code mpirun -np N ./erw train ...}, or {@code srun --mpi=pmix} under Slurm), which
 * sets {@code OMPI_COMM_WORLD_SIZE} / {@code PMIX_RANK}. The torchrun-style variables
 * ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}) are checked against MPI's view when set.
 */
final class Launch {
    private Launch() {}

    /** Whether an MPI launcher started this process. */
    static boolean underMpi(Map<String, String> env) {
        return env.containsKey("OMPI_COMM_WORLD_SIZE") || env.containsKey("PMIX_RANK") || env.containsKey("PMI_RANK");
    }

    /** The ranks of this job: {@link Collective#SINGLE} without a launcher (or with one rank). */
    static Collective collective() {
        Map<String, String> env = System.getenv();
        int worldSize = intEnv(env, "WORLD_SIZE", 1);
        if (!underMpi(env)) {
            if (worldSize > 1) {
                throw new IllegalArgumentException("WORLD_SIZE=" + worldSize + " but erw was not started by an MPI launcher: start the ranks with mpirun -np "
                        + worldSize + " ./erw train ... (or srun --mpi=pmix under Slurm)");
            }
            return Collective.SINGLE;
        }
        Mpi mpi = Mpi.init();
        if (env.containsKey("WORLD_SIZE") && worldSize != mpi.size()) {
            mpi.close();
            throw new IllegalArgumentException("WORLD_SIZE=" + worldSize + " disagrees with the " + mpi.size() + " ranks the MPI launcher started");
        }
        if (env.containsKey("RANK") && intEnv(env, "RANK", 0) != mpi.rank()) {
            mpi.close();
            throw new IllegalArgumentException("RANK=" + env.get("RANK") + " disagrees with MPI's rank " + mpi.rank());
        }
        if (mpi.size() == 1) {
            mpi.close();
            return Collective.SINGLE;
        }
        return new MpiCollective(mpi);
    }

    /** Worker threads per rank by default: the machine's cores shared by the ranks on it. */
    static int defaultThreads(int cores) {
        Map<String, String> env = System.getenv();
        int local = intEnv(env, "OMPI_COMM_WORLD_LOCAL_SIZE", intEnv(env, "LOCAL_WORLD_SIZE", 1));
        return Math.max(1, cores / Math.max(1, local));
    }

    private static int intEnv(Map<String, String> env, String name, int fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable " + name + "=" + v + " is not an integer");
        }
    }
}
