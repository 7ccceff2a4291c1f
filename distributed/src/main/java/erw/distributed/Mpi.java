package erw.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The part of MPI erw uses, bound to Open MPI's {@code libmpi.so.40} through the FFM API (Debian's
 * {@code libopenmpi3}/{@code openmpi-bin}; no {@code mpi.jar} exists there). Every call is typed
 * here and checked: a non-zero MPI return code becomes an {@link MpiException} naming the call.
 *
 * <p>Handles: Open MPI's predefined objects ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT},
 * {@code MPI_SUM}, ...) are the addresses of the library's global structs
 * {@code ompi_mpi_comm_world}, {@code ompi_mpi_float}, {@code ompi_mpi_op_sum}; a request is a
 * pointer-sized handle. Buffers are native memory (a non-blocking reduction needs them pinned).
 * One instance per process ({@link #init()}); MPI is initialized with {@code MPI_THREAD_FUNNELED}:
 * only the thread that initialized it calls MPI.
 */
public final class Mpi implements AutoCloseable {
    /** Where Debian (and most distributions) put Open MPI's C library. */
    static final List<String> LIBRARIES = List.of("libmpi.so.40", "/usr/lib/x86_64-linux-gnu/libmpi.so.40", "/usr/lib/aarch64-linux-gnu/libmpi.so.40", "libmpi.so");
    private static final int MPI_THREAD_FUNNELED = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final java.lang.foreign.AddressLayout PTR = ValueLayout.ADDRESS;

    private final Arena arena = Arena.ofShared();
    private final SymbolLookup lib;
    private final MemorySegment commWorld, typeFloat, typeDouble, typeInt, opSum, opMax;
    private final MethodHandle initThread, finalized, finalize, commRank, commSize, allreduce, iallreduce, waitH, testH, bcast, barrier, abort;
    private final int rank, size;
    private boolean closed;

    private Mpi(SymbolLookup lib) {
        this.lib = lib;
        commWorld = symbol("ompi_mpi_comm_world");
        typeFloat = symbol("ompi_mpi_float");
        typeDouble = symbol("ompi_mpi_double");
        typeInt = symbol("ompi_mpi_int");
        opSum = symbol("ompi_mpi_op_sum");
        opMax = symbol("ompi_mpi_op_max");
        initThread = fn("MPI_Init_thread", INT, PTR, PTR, INT, PTR);
        finalized = fn("MPI_Finalized", INT, PTR);
        finalize = fn("MPI_Finalize", INT);
        commRank = fn("MPI_Comm_rank", INT, PTR, PTR);
        commSize = fn("MPI_Comm_size", INT, PTR, PTR);
        allreduce = fn("MPI_Allreduce", INT, PTR, PTR, INT, PTR, PTR, PTR);
        iallreduce = fn("MPI_Iallreduce", INT, PTR, PTR, INT, PTR, PTR, PTR, PTR);
        waitH = fn("MPI_Wait", INT, PTR, PTR);
        testH = fn("MPI_Test", INT, PTR, PTR, PTR);
        bcast = fn("MPI_Bcast", INT, PTR, INT, PTR, INT, PTR);
        barrier = fn("MPI_Barrier", INT, PTR);
        abort = fn("MPI_Abort", INT, PTR, INT);
        MemorySegment provided = arena.allocate(INT);
        check("MPI_Init_thread", call(initThread, MemorySegment.NULL, MemorySegment.NULL, MPI_THREAD_FUNNELED, provided));
        MemorySegment out = arena.allocate(INT);
        check("MPI_Comm_rank", call(commRank, commWorld, out));
        rank = out.get(INT, 0);
        check("MPI_Comm_size", call(commSize, commWorld, out));
        size = out.get(INT, 0);
    }

    /** Whether Open MPI's library can be loaded here. */
    public static boolean available() {
        return lookup().isPresent();
    }

    /** Initializes MPI (once per process) on {@code MPI_COMM_WORLD}. */
    public static Mpi init() {
        SymbolLookup lib = lookup().orElseThrow(() -> new MpiException("Open MPI's libmpi.so.40 was not found: install it (Debian: apt-get install openmpi-bin libopenmpi-dev) to run with mpirun"));
        return new Mpi(lib);
    }

    private static Optional<SymbolLookup> lookup() {
        for (String name : LIBRARIES) {
            if (name.startsWith("/") && !Files.exists(Path.of(name))) continue;
            try {
                return Optional.of(SymbolLookup.libraryLookup(name, Arena.global()));
            } catch (IllegalArgumentException notFound) {
                // try the next location
            }
        }
        return Optional.empty();
    }

    private MemorySegment symbol(String name) {
        return lib.find(name).orElseThrow(() -> new MpiException("libmpi has no symbol " + name + ": erw binds Open MPI 4 (MPICH and others name their handles differently)"));
    }

    private MethodHandle fn(String name, ValueLayout ret, java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(symbol(name), FunctionDescriptor.of(ret, args));
    }

    private static int call(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI call failed: " + t);
        }
    }

    private static void check(String what, int rc) {
        if (rc != 0) throw new MpiException(what + " returned MPI error " + rc);
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    /** A native buffer of {@code floats} floats, freed with this MPI instance. */
    public MemorySegment allocateFloats(long floats) {
        return arena.allocate(ValueLayout.JAVA_FLOAT, floats);
    }

    /** A native buffer of {@code n} doubles. */
    public MemorySegment allocateDoubles(long n) {
        return arena.allocate(ValueLayout.JAVA_DOUBLE, n);
    }

    /** In-place sum over all ranks of {@code count} floats. */
    public void allReduceSum(MemorySegment buf, int count) {
        check("MPI_Allreduce", call(allreduce, MemorySegment.ofAddress(1) /* MPI_IN_PLACE */, buf, count, typeFloat, opSum, commWorld));
    }

    /** In-place sum of doubles over all ranks. */
    public void allReduceSumDoubles(MemorySegment buf, int count) {
        check("MPI_Allreduce", call(allreduce, MemorySegment.ofAddress(1), buf, count, typeDouble, opSum, commWorld));
    }

    /** In-place maximum of ints over all ranks. */
    public void allReduceMaxInts(MemorySegment buf, int count) {
        check("MPI_Allreduce", call(allreduce, MemorySegment.ofAddress(1), buf, count, typeInt, opMax, commWorld));
    }

    /** A started non-blocking reduction; {@link #test} and {@link #await} complete it. */
    public final class Request {
        private final MemorySegment handle = arena.allocate(PTR), flag = arena.allocate(INT);
        private boolean done;

        /** Drives MPI's progress; true once the reduction has completed. */
        public boolean test() {
            if (done) return true;
            check("MPI_Test", call(testH, handle, flag, MemorySegment.NULL));
            done = flag.get(INT, 0) != 0;
            return done;
        }

        public void await() {
            if (done) return;
            check("MPI_Wait", call(waitH, handle, MemorySegment.NULL));
            done = true;
        }
    }

    /** A request handle to start reductions with (reusable once completed). */
    public Request newRequest() {
        Request r = new Request();
        r.done = true;
        return r;
    }

    /** Starts an in-place sum of {@code count} floats over all ranks (MPI_Iallreduce) on a completed request. */
    public Request startAllReduceSum(MemorySegment buf, int count, Request r) {
        if (!r.done) throw new IllegalStateException("request still in flight");
        r.done = false;
        check("MPI_Iallreduce", call(iallreduce, MemorySegment.ofAddress(1), buf, count, typeFloat, opSum, commWorld, r.handle));
        return r;
    }

    /** Broadcasts {@code count} floats from {@code root}. */
    public void broadcast(MemorySegment buf, int count, int root) {
        check("MPI_Bcast", call(bcast, buf, count, typeFloat, root, commWorld));
    }

    public void barrier() {
        check("MPI_Barrier", call(barrier, commWorld));
    }

    /** Ends every rank of the job (MPI_Abort): what a failing rank does so that no other one waits forever. */
    public void abort(int code) {
        call(abort, commWorld, code);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        MemorySegment flag = arena.allocate(INT);
        call(finalized, flag);
        if (flag.get(INT, 0) == 0) check("MPI_Finalize", call(finalize));
    }
}
