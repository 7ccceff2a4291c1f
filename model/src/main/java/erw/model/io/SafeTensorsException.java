package erw.model.io;

/**
 * A tensor file (safetensors or .npy) that cannot be read or written, or does not match what was
 * asked of it; the message names the file and, where one is at fault, the tensor.
 */
public class SafeTensorsException extends RuntimeException {
    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
