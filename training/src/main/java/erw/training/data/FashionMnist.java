package erw.training.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Fashion-MNIST read from its IDX files (gzipped or plain), as (N, 1, 32, 32) images in [-1, 1]: each
 * 28x28 image is padded by 2 pixels of background (-1) on every side, pixels map as {@code p/127.5 - 1}.
 *
 * <p>Files looked for in the directory, first found wins: {@code train-images-idx3-ubyte.gz},
 * {@code train-images-idx3-ubyte}, {@code train-images.idx3-ubyte.gz}, {@code train-images.idx3-ubyte}
 * (likewise {@code train-labels-idx1-ubyte...} and the {@code t10k-} test split). Gzip is detected from
 * the content (bytes 1f 8b), not from the name.
 *
 * <p>Errors (missing directory or file, wrong magic, truncated file, count mismatch, bad label) are
 * {@link IllegalArgumentException}s whose message names the file; an I/O failure while reading is an
 * {@link UncheckedIOException}, also naming the file.
 */
public final class FashionMnist {
    /** Debian's {@code dataset-fashion-mnist} installs the four {@code .gz} files here. */
    public static final Path DEFAULT_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String[] CLASS_NAMES = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    public static final int NUM_CLASSES = 10, CHANNELS = 1, SIZE = 32, SOURCE_SIZE = 28, PAD = (SIZE - SOURCE_SIZE) / 2;
    static final int IMAGES_MAGIC = 0x00000803, LABELS_MAGIC = 0x00000801;

    private final int count;
    private final float[] images;
    private final int[] labels;

    private FashionMnist(int count, float[] images, int[] labels) {
        this.count = count;
        this.images = images;
        this.labels = labels;
    }

    /** {@code /usr/share/datasets/fashion-mnist}, where Debian's {@code dataset-fashion-mnist} puts it. */
    public static Path defaultDirectory() {
        return DEFAULT_DIRECTORY;
    }

    /** Number of images. */
    public int count() {
        return count;
    }

    /** (N, 1, 32, 32) row-major in [-1, 1]; the array itself, not a copy. */
    public float[] images() {
        return images;
    }

    /** N labels in [0, 10); the array itself, not a copy. */
    public int[] labels() {
        return labels;
    }

    /** Loads the training split (60000 images) or the test split (10000, {@code t10k-}). */
    public static FashionMnist load(Path dir, boolean train) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("Fashion-MNIST not found at " + dir
                    + ": install Debian's package with `sudo apt-get install dataset-fashion-mnist` (or pass --data-dir)");
        }
        String split = train ? "train" : "t10k";
        Path imageFile = find(dir, split + "-images", "idx3-ubyte");
        Path labelFile = find(dir, split + "-labels", "idx1-ubyte");
        int[] labels = readLabels(labelFile);
        byte[] pixels = readImages(imageFile);
        int n = pixels.length / (SOURCE_SIZE * SOURCE_SIZE);
        if (n != labels.length) {
            throw new IllegalArgumentException("Fashion-MNIST count mismatch: " + imageFile + " has " + n
                    + " images but " + labelFile + " has " + labels.length + " labels");
        }
        return new FashionMnist(n, pad(pixels, n), labels);
    }

    private static Path find(Path dir, String stem, String kind) {
        List<String> names = List.of(stem + "-" + kind + ".gz", stem + "-" + kind, stem + "." + kind + ".gz", stem + "." + kind);
        for (String name : names) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        throw new IllegalArgumentException("Fashion-MNIST file " + dir.resolve(names.get(0)) + " not found (nor "
                + String.join(", ", names.subList(1, names.size())) + "): install Debian's package with "
                + "`sudo apt-get install dataset-fashion-mnist` (or pass --data-dir)");
    }

    private static float[] pad(byte[] pixels, int n) {
        int src = SOURCE_SIZE * SOURCE_SIZE, dst = SIZE * SIZE;
        if ((long) n * dst > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("too many images: " + n);
        float[] out = new float[n * dst];
        Arrays.fill(out, -1f);
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < SOURCE_SIZE; y++) {
                int s = i * src + y * SOURCE_SIZE, d = i * dst + (y + PAD) * SIZE + PAD;
                for (int x = 0; x < SOURCE_SIZE; x++) out[d + x] = (pixels[s + x] & 0xff) / 127.5f - 1f;
            }
        }
        return out;
    }

    private static int[] readLabels(Path file) {
        try (DataInputStream in = open(file)) {
            int magic = in.readInt();
            if (magic != LABELS_MAGIC) throw badMagic(file, magic, LABELS_MAGIC);
            int n = in.readInt();
            if (n < 0) throw new IllegalArgumentException("bad label count " + n + " in " + file);
            byte[] raw = readBody(in, file, n);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = raw[i] & 0xff;
                if (labels[i] >= NUM_CLASSES) {
                    throw new IllegalArgumentException("label " + labels[i] + " at index " + i + " out of range [0, 10) in " + file);
                }
            }
            return labels;
        } catch (EOFException e) {
            throw truncated(file, e);
        } catch (IOException e) {
            throw ioError(file, e);
        }
    }

    private static byte[] readImages(Path file) {
        try (DataInputStream in = open(file)) {
            int magic = in.readInt();
            if (magic != IMAGES_MAGIC) throw badMagic(file, magic, IMAGES_MAGIC);
            int n = in.readInt(), rows = in.readInt(), cols = in.readInt();
            if (n < 0) throw new IllegalArgumentException("bad image count " + n + " in " + file);
            if (rows != SOURCE_SIZE || cols != SOURCE_SIZE) {
                throw new IllegalArgumentException("expected 28x28 images in " + file + ", found " + rows + "x" + cols);
            }
            long bytes = (long) n * rows * cols;
            if (bytes > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("too many images (" + n + ") in " + file);
            return readBody(in, file, (int) bytes);
        } catch (EOFException e) {
            throw truncated(file, e);
        } catch (IOException e) {
            throw ioError(file, e);
        }
    }

    /** Reads exactly {@code len} bytes (growing the buffer as data arrives, so a lying header cannot force a huge allocation). */
    private static byte[] readBody(InputStream in, Path file, int len) throws IOException {
        byte[] data = in.readNBytes(len);
        if (data.length < len) {
            throw new IllegalArgumentException("Fashion-MNIST file " + file + " is truncated: header promises "
                    + len + " bytes of data, found " + data.length);
        }
        return data;
    }

    private static DataInputStream open(Path file) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        try {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            InputStream in = (b0 == 0x1f && b1 == 0x8b) ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
            return new DataInputStream(in);
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    private static IllegalArgumentException badMagic(Path file, int found, int expected) {
        return new IllegalArgumentException(String.format("not an IDX %s file: %s starts with magic 0x%08x, expected 0x%08x",
                expected == IMAGES_MAGIC ? "image" : "label", file, found, expected));
    }

    private static IllegalArgumentException truncated(Path file, EOFException e) {
        return new IllegalArgumentException("Fashion-MNIST file " + file + " is truncated ("
                + (e.getMessage() == null ? "end of file in the header" : e.getMessage()) + ")", e);
    }

    private static RuntimeException ioError(Path file, IOException e) {
        if (e instanceof ZipException) {
            return new IllegalArgumentException("Fashion-MNIST file " + file + " is a corrupt gzip: " + e.getMessage(), e);
        }
        return new UncheckedIOException("cannot read Fashion-MNIST file " + file + ": " + e.getMessage(), e);
    }
}
