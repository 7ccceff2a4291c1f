package erw.model.io;

/** A safetensors file that cannot be read or does not match what was asked of it; the message names the file and tensor. */
public class SafeTensorsException extends RuntimeException {
    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
