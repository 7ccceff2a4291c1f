package erw.engine.tornado;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.exceptions.TornadoRuntimeException;
import uk.ac.manchester.tornado.runtime.common.TornadoXPUDevice;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryContext;
import uk.ac.manchester.tornado.runtime.library.spi.LibraryInvocation;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoNativeStreamSupport;

/**
 * The {@code erw/cublas} library of TornadoVM's CUDA backend: runs {@link Cublas#gemm} tasks as {@code cublasGemmEx}
 * (or {@code cublasGemmStridedBatchedEx} for a batch)
 * on the plan's CUDA stream (HYBRID_API_GUIDE section 8). The binding is Java's FFM on NVIDIA's own
 * {@code libcublas.so} (13, else 12, else the unversioned name; the GPU machine's PyTorch wheels carry it), so
 * nothing native is compiled: what TornadoVM's own {@code tornado-cublas} JNI does for {@code cublasGemmEx}
 * (host scalars, {@code CUBLAS_GEMM_DEFAULT}, a handle per plan bound to its stream), in Java.
 * Found by TornadoVM's {@code ServiceLoader} (module-info and META-INF/services); only CUDA-backend devices,
 * which expose their stream, are handled.
 */
public final class CublasProvider implements TornadoLibraryProvider {
    /** CUDA_R_32F (library_types.h): every operand's type. */
    private static final int R_32F = Cublas.R_32F;
    private static final int GEMM_DEFAULT = -1;

    /** A cuBLAS handle bound to one execution plan's stream, with the two host scalars cublasGemmEx reads. */
    private record Context(MemorySegment handle, MemorySegment alpha, MemorySegment beta) implements LibraryContext {}

    /** The library's entry points, bound on first use. */
    private static final class Native {
        static final MethodHandle CREATE, SET_STREAM, DESTROY, GEMM_EX, GEMM_BATCHED_EX;
        static final String LIBRARY;

        static {
            Linker linker = Linker.nativeLinker();
            SymbolLookup lib = null;
            String found = null;
            StringBuilder tried = new StringBuilder();
            for (String name : new String[] {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
                try {
                    lib = SymbolLookup.libraryLookup(name, Arena.global());
                    found = name;
                    break;
                } catch (IllegalArgumentException e) {
                    tried.append(tried.isEmpty() ? "" : ", ").append(name);
                }
            }
            if (lib == null) throw new TornadoRuntimeException("erw/cublas: cannot load cuBLAS (tried " + tried + "; put its directory on LD_LIBRARY_PATH)");
            LIBRARY = found;
            ValueLayout.OfInt i = ValueLayout.JAVA_INT;
            var p = ValueLayout.ADDRESS;
            CREATE = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(i, p));
            SET_STREAM = linker.downcallHandle(find(lib, "cublasSetStream_v2"), FunctionDescriptor.of(i, p, p));
            DESTROY = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(i, p));
            // (handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc, computeType, algo)
            GEMM_EX = linker.downcallHandle(find(lib, "cublasGemmEx"),
                    FunctionDescriptor.of(i, p, i, i, i, i, i, p, p, i, i, p, i, i, p, p, i, i, i, i));
            // (handle, transa, transb, m, n, k, alpha*, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta*, C, Ctype, ldc, strideC,
            //  batchCount, computeType, algo); the strides are long long
            ValueLayout.OfLong l = ValueLayout.JAVA_LONG;
            GEMM_BATCHED_EX = linker.downcallHandle(find(lib, "cublasGemmStridedBatchedEx"),
                    FunctionDescriptor.of(i, p, i, i, i, i, i, p, p, i, i, l, p, i, i, l, p, p, i, i, l, i, i, i));
        }

        private static MemorySegment find(SymbolLookup lib, String name) {
            return lib.find(name).orElseThrow(() -> new TornadoRuntimeException("erw/cublas: " + name + " is missing from cuBLAS"));
        }
    }

    private static void check(int status, String call) {
        if (status != 0) throw new TornadoRuntimeException("erw/cublas: " + call + " returned cuBLAS status " + status);
    }

    @Override
    public String libraryName() {
        return Cublas.LIBRARY;
    }

    @Override
    public boolean canHandle(TornadoXPUDevice device) {
        return device instanceof TornadoNativeStreamSupport || virtual(device);
    }

    /** TornadoVM's virtual device (code generation only): its library tasks are never dispatched, so no handle is made. */
    private static boolean virtual(TornadoXPUDevice device) {
        return Execution.VIRTUAL_DEVICE && device.getTornadoVMBackend() == TornadoVMBackendType.VIRTUAL;
    }

    @Override
    public LibraryContext createContext(TornadoXPUDevice device, long executionPlanId) {
        if (virtual(device)) return new Context(MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL);
        long stream = ((TornadoNativeStreamSupport) device).getNativeStream(executionPlanId);
        Arena arena = Arena.global(); // a plan's handle lives as long as TornadoVM keeps its context
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        try {
            check((int) Native.CREATE.invokeExact(out), "cublasCreate");
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            check((int) Native.SET_STREAM.invokeExact(handle, MemorySegment.ofAddress(stream)), "cublasSetStream");
            return new Context(handle, arena.allocate(ValueLayout.JAVA_FLOAT), arena.allocate(ValueLayout.JAVA_FLOAT));
        } catch (ExceptionInInitializerError e) { // cuBLAS did not load: say why, once per plan
            throw new TornadoRuntimeException(e.getCause() != null ? e.getCause().getMessage() : String.valueOf(e));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new TornadoRuntimeException("erw/cublas: " + t);
        }
    }

    @Override
    public void dispatch(String functionName, LibraryInvocation call) {
        if (!functionName.equals("gemm")) throw new TornadoRuntimeException("erw/cublas: no function '" + functionName + "'");
        Context ctx = (Context) call.getContext();
        // the argument order of Cublas.gemm: opX, opY, rows, cols, depth, X, ldx, sx, Y, ldy, sy, beta, C, ldc, sc, batch, computeType
        ctx.alpha().set(ValueLayout.JAVA_FLOAT, 0, 1f);
        ctx.beta().set(ValueLayout.JAVA_FLOAT, 0, (float) call.getArg(11));
        int opX = (int) call.getArg(0), opY = (int) call.getArg(1), rows = (int) call.getArg(2), cols = (int) call.getArg(3), depth = (int) call.getArg(4);
        MemorySegment x = MemorySegment.ofAddress(call.getDevicePointer(5)), y = MemorySegment.ofAddress(call.getDevicePointer(8));
        MemorySegment c = MemorySegment.ofAddress(call.getDevicePointer(12));
        int ldx = (int) call.getArg(6), ldy = (int) call.getArg(9), ldc = (int) call.getArg(13), batch = (int) call.getArg(15), compute = (int) call.getArg(16);
        try {
            int status = batch == 1
                    ? (int) Native.GEMM_EX.invokeExact(ctx.handle(), opX, opY, rows, cols, depth, ctx.alpha(), x, R_32F, ldx, y, R_32F, ldy, ctx.beta(),
                            c, R_32F, ldc, compute, GEMM_DEFAULT)
                    : (int) Native.GEMM_BATCHED_EX.invokeExact(ctx.handle(), opX, opY, rows, cols, depth, ctx.alpha(), x, R_32F, ldx,
                            (long) (int) call.getArg(7), y, R_32F, ldy, (long) (int) call.getArg(10), ctx.beta(), c, R_32F, ldc,
                            (long) (int) call.getArg(14), batch, compute, GEMM_DEFAULT);
            check(status, batch == 1 ? "cublasGemmEx" : "cublasGemmStridedBatchedEx");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new TornadoRuntimeException("erw/cublas: " + t);
        }
    }

    @Override
    public void destroyContext(LibraryContext context) {
        if (((Context) context).handle().equals(MemorySegment.NULL)) return;
        try {
            int ignored = (int) Native.DESTROY.invokeExact(((Context) context).handle());
        } catch (Throwable t) {
            // a failed destroy at plan close leaks one handle; nothing to report to
        }
    }
}
