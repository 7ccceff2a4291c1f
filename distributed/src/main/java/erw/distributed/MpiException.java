package erw.distributed;

/** An MPI call that failed or a library that cannot be bound: a one-line user-facing error. */
public final class MpiException extends IllegalStateException {
    public MpiException(String message) {
        super(message);
    }
}
