package erw.training.run;

import erw.training.BatchSource;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A dataset's identity for resume checks: SHA-256 over its sizes (count, image and feature shapes,
 * classes) and the exact bits of {@link #ROWS} rows spread evenly over it (images, labels, features),
 * read through {@link BatchSource} so it is the same for a dataset directory and for the built-in
 * data in memory. Reading 64 rows is cheap even for ImageNet latents, and two datasets that differ
 * anywhere those rows or sizes reach get different fingerprints; a dataset copied or moved keeps its own.
 * A dataset of posterior moments adds its scale and shift and the same rows' stored mean and std
 * (nothing is added for plain data, whose fingerprints stay what they were).
 */
public final class DataFingerprint {
    /** Rows hashed: evenly spaced, first and last included. */
    public static final int ROWS = 64;

    private DataFingerprint() {}

    public static String of(BatchSource data) {
        return of(data, java.util.List.of());
    }

    /**
     * As {@link #of(BatchSource)}, followed by each named further feature set's name, shape and the
     * same rows (nothing is added for an empty list, so a run without such sets keeps its fingerprint).
     */
    public static String of(BatchSource data, java.util.List<String> extraSets) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        int n = data.count();
        int[] img = data.imageShape(), feat = data.hasFeatures() ? data.featureShape() : new int[0];
        ByteBuffer head = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        head.putInt(n).putInt(data.numClasses()).putInt(img.length);
        for (int v : img) head.putInt(v);
        head.putInt(feat.length);
        for (int v : feat) head.putInt(v);
        sha.update(head.array(), 0, head.position());
        int rows = Math.min(n, ROWS);
        int per = img[0] * img[1] * img[2], fper = feat.length == 2 ? feat[0] * feat[1] : 0;
        float[] x = new float[per], y = new float[1], z = fper > 0 ? new float[fper] : null;
        int[] idx = new int[1];
        for (int i = 0; i < rows; i++) {
            idx[0] = rows == 1 ? 0 : (int) ((long) i * (n - 1) / (rows - 1));
            data.batch(idx, x, y, z);
            update(sha, x);
            update(sha, y);
            if (z != null) update(sha, z);
        }
        BatchSource.Posterior post = data.posterior();
        if (post != null) {
            sha.update("posterior".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            update(sha, new float[]{post.scale(), post.shift()});
            float[] mean = new float[per], std = new float[per];
            for (int i = 0; i < rows; i++) {
                idx[0] = rows == 1 ? 0 : (int) ((long) i * (n - 1) / (rows - 1));
                data.moments(idx, mean, std, y);
                update(sha, mean);
                update(sha, std);
            }
        }
        for (String set : extraSets) {
            int[] shape = data.featureShape(set);
            if (shape == null) throw new IllegalArgumentException("the dataset has no feature set '" + set + "'");
            sha.update(set.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ByteBuffer sh = ByteBuffer.allocate(4 + 4 * shape.length).order(ByteOrder.LITTLE_ENDIAN);
            sh.putInt(shape.length);
            for (int v : shape) sh.putInt(v);
            sha.update(sh.array());
            float[] f = new float[BatchSource.size(shape)];
            for (int i = 0; i < rows; i++) {
                idx[0] = rows == 1 ? 0 : (int) ((long) i * (n - 1) / (rows - 1));
                data.features(set, idx, f);
                update(sha, f);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void update(MessageDigest sha, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putInt(Float.floatToRawIntBits(f));
        sha.update(b.array());
    }
}
