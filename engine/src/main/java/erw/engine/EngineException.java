package erw.engine;

/**
 * The one exception the engine raises for bad input: a shape mismatch while recording, a buffer of
 * the wrong size, a plan run after it was closed. The message names the op (or buffer) and the
 * shapes at fault, so callers can show it to a user as it is.
 */
public class EngineException extends RuntimeException {
    public EngineException(String message) {
        super(message);
    }

    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
