package erw.training;

/** A run that cannot go on (a non-finite loss, an unusable checkpoint); the message is for the user. */
public class TrainingException extends RuntimeException {
    public TrainingException(String message) {
        super(message);
    }
}
