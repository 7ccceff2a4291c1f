package erw.training.run;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training run's directory, held by one process at a time. Opening it takes an exclusive lock on
 * {@code run.lock} (released when closed or when the process dies, as OS file locks are), so two
 * trainings, or a resume of a run that is still being written, cannot interleave their files. Once
 * locked, the temporary files of writes that a killed process left behind are removed. A fresh run
 * refuses a directory that already holds a run; {@link #pruneCheckpoints} bounds disk use.
 */
public final class RunDirectory implements AutoCloseable {
    public static final String LOCK = "run.lock", CONFIG = "config.json", METRICS = "metrics.jsonl";
    private static final Pattern CHECKPOINT = Pattern.compile("step-\\d{7}\\.safetensors");
    /** Temporary files of atomic writes (checkpoints, config, metrics rewrite), as named by their writers. */
    private static final Pattern STALE_TEMP = Pattern.compile("\\..+\\.[0-9a-f]+\\.tmp|metrics\\.jsonl\\.tmp|\\.config\\.json.*\\.tmp");

    private final Path dir;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private RunDirectory(Path dir, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * A directory for a new run (created if needed), locked; refused when it is a file, cannot be
     * created or written, is in use, or already holds a run ({@code option} names the option that
     * gave the path in every error).
     */
    public static RunDirectory createFresh(Path dir, String option) {
        RunDirectory rd = open(dir, option, true);
        try {
            List<String> found = new ArrayList<>();
            for (String f : List.of(CONFIG, METRICS)) if (Files.exists(dir.resolve(f))) found.add(f);
            if (!rd.checkpoints().isEmpty()) found.add(rd.checkpoints().size() + " checkpoint(s)");
            if (!found.isEmpty() && rd.checkpoints().isEmpty()) {
                throw new IllegalArgumentException(option + " " + dir + " already holds a run that wrote no checkpoint (" + String.join(", ", found)
                        + "): remove that directory or choose another " + option);
            }
            if (!found.isEmpty()) {
                throw new IllegalArgumentException(option + " " + dir + " already holds a run (" + String.join(", ", found)
                        + "): continue it with --resume " + dir + ", or choose another " + option);
            }
            return rd;
        } catch (RuntimeException e) {
            rd.close();
            throw e;
        }
    }

    /** An existing run's directory, locked, for a resume. */
    public static RunDirectory openExisting(Path dir, String option) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(option + " " + dir + ": no such run directory");
        return open(dir, option, false);
    }

    private static RunDirectory open(Path dir, String option, boolean create) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IllegalArgumentException(option + " " + dir + " is a file, not a directory");
        try {
            if (create) Files.createDirectories(dir);
        } catch (FileSystemException e) {
            throw new IllegalArgumentException(option + " " + dir + ": cannot create the run directory (" + reason(e) + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + dir + ": cannot create the run directory (" + e.getMessage() + ")");
        }
        Path lockFile = dir.resolve(LOCK);
        FileChannel ch;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + dir + " is not writable (" + (e instanceof FileSystemException fe ? reason(fe) : e.getMessage()) + ")");
        }
        FileLock lk;
        try {
            lk = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lk = null;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new IllegalArgumentException(option + " " + dir + ": cannot lock " + LOCK + " (" + e.getMessage() + ")");
        }
        if (lk == null) {
            String holder = "";
            try {
                holder = Files.readString(lockFile).trim();
            } catch (IOException ignored) {
                // the holder's pid is only a courtesy
            }
            closeQuietly(ch);
            throw new IllegalArgumentException(option + " " + dir + " is in use by another erw process" + (holder.isEmpty() ? "" : " (" + holder + ")")
                    + ": wait for it to finish or stop it first");
        }
        try {
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)), 0);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new IllegalArgumentException(option + " " + dir + " is not writable (" + e.getMessage() + ")");
        }
        return new RunDirectory(dir, ch, lk);
    }

    private static String reason(FileSystemException e) {
        String r = e.getReason();
        if (e instanceof AccessDeniedException) r = "permission denied";
        else if (e instanceof java.nio.file.FileAlreadyExistsException) r = e.getFile() + " exists and is not a directory";
        return r != null ? r : e.getClass().getSimpleName() + " " + e.getFile();
    }

    public Path path() {
        return dir;
    }

    /** Removes temporary files of interrupted writes; returns {count, bytes} removed. */
    public long[] removeStaleTemporaries() {
        long n = 0, bytes = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                if (!STALE_TEMP.matcher(p.getFileName().toString()).matches() || !Files.isRegularFile(p)) continue;
                long size = Files.size(p);
                Files.deleteIfExists(p);
                n++;
                bytes += size;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean temporary files in " + dir + ": " + e.getMessage(), e);
        }
        return new long[]{n, bytes};
    }

    /** The checkpoints {@code step-XXXXXXX.safetensors}, oldest first. */
    public List<Path> checkpoints() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> CHECKPOINT.matcher(p.getFileName().toString()).matches()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Deletes all but the newest {@code keep} checkpoints (keep 0 = keep all); returns those deleted. */
    public List<Path> pruneCheckpoints(int keep) {
        if (keep <= 0) return List.of();
        List<Path> all = checkpoints();
        List<Path> gone = new ArrayList<>(all.subList(0, Math.max(0, all.size() - keep)));
        for (Path p : gone) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete old checkpoint " + p + " (--keep-last): " + e.getMessage(), e);
            }
        }
        return gone;
    }

    /** Replaces a text file of the run atomically (temporary file, then rename). */
    public void writeAtomically(String name, String text) {
        Path target = dir.resolve(name);
        try {
            Path tmp = Files.createTempFile(dir, "." + name + ".", ".tmp");
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (lock.isValid()) lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockChannel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
