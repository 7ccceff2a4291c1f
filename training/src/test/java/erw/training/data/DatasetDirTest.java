package erw.training.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.host.Philox;
import erw.model.io.SafeTensors;
import erw.training.BatchSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetDirTest {
    static float[] seq(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = i * 0.5f;
        return a;
    }

    @Test
    void roundTripReadsJustTheRequestedRows(@TempDir Path dir) {
        DatasetDir.write(dir, seq(5 * 2 * 4 * 4), new int[]{2, 4, 4}, new float[]{0, 1, 2, 1, 0}, 3, seq(5 * 6 * 3), new int[]{6, 3}, "enc", "test");
        try (DatasetDir d = DatasetDir.open(dir)) {
            assertEquals(5, d.count());
            assertArrayEquals(new int[]{2, 4, 4}, d.imageShape());
            assertArrayEquals(new int[]{6, 3}, d.featureShape());
            assertEquals("enc", d.encoderName());
            float[] img = new float[2 * 32], lab = new float[2], feat = new float[2 * 18];
            d.batch(new int[]{3, 1}, img, lab, feat);
            assertArrayEquals(new float[]{1, 1}, lab);
            assertEquals(3 * 32 * 0.5f, img[0]);
            assertEquals(1 * 32 * 0.5f, img[32]);
            assertEquals(3 * 18 * 0.5f, feat[0]);
        }
    }

    @Test
    void badDatasetsGiveOneClearError(@TempDir Path dir) throws Exception {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(dir.resolve("none"))).getMessage().contains("manifest.json"));
        Path corrupt = dir.resolve("corrupt");
        Files.createDirectories(corrupt);
        Files.writeString(corrupt.resolve("manifest.json"), "{not json");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(corrupt)).getMessage().contains("not valid JSON"));
        Path good = dir.resolve("good");
        DatasetDir.write(good, seq(4 * 16), new int[]{1, 4, 4}, new float[]{0, 1, 0, 1}, 2, seq(4 * 6), new int[]{3, 2}, null, "t");
        String manifest = Files.readString(good.resolve("manifest.json"));
        Files.writeString(good.resolve("manifest.json"), manifest.replace("\"count\" : 4", "\"count\" : 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(good)).getMessage().contains("field 'count' = 0"));
        // features whose N or T does not match
        Files.writeString(good.resolve("manifest.json"), manifest);
        SafeTensors.write(good.resolve("shard-00000.safetensors"), Map.of(
                "images", new SafeTensors.Tensor(new long[]{4, 1, 4, 4}, seq(64)), "labels", new SafeTensors.Tensor(new long[]{4}, new float[4]),
                "features", new SafeTensors.Tensor(new long[]{3, 3, 2}, seq(18))), Map.of());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(good)).getMessage().contains("do not match the 4 images"));
        SafeTensors.write(good.resolve("shard-00000.safetensors"), Map.of(
                "images", new SafeTensors.Tensor(new long[]{4, 1, 4, 4}, seq(64)), "labels", new SafeTensors.Tensor(new long[]{4}, new float[4]),
                "features", new SafeTensors.Tensor(new long[]{4, 5, 2}, seq(40))), Map.of());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(good)).getMessage().contains("5 tokens"));
        Files.writeString(good.resolve("shard-00000.safetensors"), "garbage");
        assertThrows(RuntimeException.class, () -> DatasetDir.open(good));
    }

    static final BatchSource.Posterior SD = new BatchSource.Posterior(0.18215f, 0.25f, "test-vae");

    /** n samples of (2, 3, 3): means from one Philox stream, stds in [0, 1) from another. */
    static float[][] moments(int n) {
        float[] mean = new float[n * 18], std = new float[n * 18];
        Philox.normal(4, 1, 0, mean, 0, mean.length);
        Philox.uniform(4, 2, 0, std, 0, std.length);
        return new float[][]{mean, std};
    }

    @Test
    void momentsWriterRoundTripsAcrossShards(@TempDir Path dir) throws Exception {
        int n = 10;
        float[][] m = moments(n);
        float[] labels = new float[n], feat = seq(n * 4 * 3);
        for (int i = 0; i < n; i++) labels[i] = (i * 7) % 5;
        try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(dir, new int[]{2, 3, 3}, 5, SD).shardSamples(4).features(new int[]{4, 3}, "enc")) {
            int at = 0;
            for (int b : new int[]{3, 5, 2}) { // appends that straddle shard boundaries
                w.append(Arrays.copyOfRange(m[0], at * 18, (at + b) * 18), Arrays.copyOfRange(m[1], at * 18, (at + b) * 18), Arrays.copyOfRange(labels, at, at + b),
                        Arrays.copyOfRange(feat, at * 12, (at + b) * 12));
                at += b;
            }
            assertEquals(n, w.count());
            assertEquals(n, w.finish());
        }
        String manifest = Files.readString(dir.resolve(DatasetDir.MANIFEST));
        assertTrue(manifest.contains("\"erw-dataset/2\"") && manifest.contains("\"scale\" : 0.18215") && manifest.contains("\"shift\" : 0.25"), manifest);
        for (String shard : new String[]{"shard-00000", "shard-00001", "shard-00002"}) assertTrue(Files.exists(dir.resolve(shard + ".safetensors")), shard);
        try (DatasetDir d = DatasetDir.open(dir)) {
            assertEquals(n, d.count());
            assertEquals(SD, d.posterior());
            assertEquals("enc", d.encoderName());
            int[] idx = {9, 0, 5, 3, 4};
            float[] mean = new float[idx.length * 18], std = new float[mean.length], lab = new float[idx.length], img = new float[mean.length], lab2 = new float[idx.length],
                    f = new float[idx.length * 12];
            d.moments(idx, mean, std, lab);
            d.batch(idx, img, lab2, f);
            for (int i = 0; i < idx.length; i++) {
                assertArrayEquals(Arrays.copyOfRange(m[0], idx[i] * 18, idx[i] * 18 + 18), Arrays.copyOfRange(mean, i * 18, i * 18 + 18), "mean of row " + idx[i]);
                assertArrayEquals(Arrays.copyOfRange(m[1], idx[i] * 18, idx[i] * 18 + 18), Arrays.copyOfRange(std, i * 18, i * 18 + 18), "std of row " + idx[i]);
                assertArrayEquals(Arrays.copyOfRange(feat, idx[i] * 12, idx[i] * 12 + 12), Arrays.copyOfRange(f, i * 12, i * 12 + 12), "features of row " + idx[i]);
                assertEquals(labels[idx[i]], lab[i]);
                assertEquals(labels[idx[i]], lab2[i]);
                // batch() is the mean in the model's space: the draw with eps = 0
                for (int j = 0; j < 18; j++) assertEquals(SD.draw(mean[i * 18 + j], std[i * 18 + j], 0f), img[i * 18 + j]);
            }
        }
        // the in-memory form writes the same dataset
        Path one = dir.resolve("one");
        DatasetDir.writeMoments(one, m[0], m[1], new int[]{2, 3, 3}, labels, 5, SD, feat, new int[]{4, 3}, "enc", "t");
        try (DatasetDir d = DatasetDir.open(one)) {
            float[] a = new float[n * 18], b = new float[n * 18], l = new float[n];
            int[] all = new int[n];
            for (int i = 0; i < n; i++) all[i] = i;
            d.moments(all, a, b, l);
            assertArrayEquals(m[0], a);
            assertArrayEquals(m[1], b);
        }
    }

    @Test
    void aPlainDatasetStaysFormatOneWithoutPosterior(@TempDir Path dir) throws Exception {
        DatasetDir.write(dir, seq(2 * 16), new int[]{1, 4, 4}, new float[]{0, 1}, 2, null, null, null, "t");
        String manifest = Files.readString(dir.resolve(DatasetDir.MANIFEST));
        assertTrue(manifest.contains("\"erw-dataset/1\"") && !manifest.contains("posterior"), manifest);
        try (DatasetDir d = DatasetDir.open(dir)) {
            assertNull(d.posterior());
            assertThrows(UnsupportedOperationException.class, () -> d.moments(new int[]{0}, new float[16], new float[16], new float[1]));
        }
    }

    @Test
    void theWriterRefusesBadMomentsAndLeavesNothingHalfWritten(@TempDir Path dir) throws Exception {
        float[][] m = moments(6);
        float[] labels = {0, 1, 2, 0, 1, 2};
        Path plain = dir.resolve("d");
        DatasetDir.write(plain, seq(6 * 18), new int[]{2, 3, 3}, labels, 3, null, null, null, "t");
        float[] negative = m[1].clone();
        negative[4 * 18 + 2] = -0.5f;
        try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(plain, new int[]{2, 3, 3}, 3, SD).shardSamples(2)) {
            w.append(Arrays.copyOf(m[0], 36), Arrays.copyOf(m[1], 36), new float[]{0, 1}); // a full shard: written
            assertTrue(Files.exists(plain.resolve("shard-00000.safetensors")) && !Files.exists(plain.resolve(DatasetDir.MANIFEST)), "the old manifest goes with the first shard");
            String e = assertThrows(IllegalArgumentException.class, () -> w.append(Arrays.copyOfRange(m[0], 36, 108), Arrays.copyOfRange(negative, 36, 108), new float[]{2, 0, 1, 2}))
                    .getMessage();
            assertTrue(e.contains("std -0.5 of sample 4") && e.contains("log-variance"), e);
            e = assertThrows(IllegalArgumentException.class, () -> w.append(Arrays.copyOf(m[0], 18), Arrays.copyOf(m[1], 18), new float[]{3})).getMessage();
            assertTrue(e.contains("label 3.0 of sample 2"), e);
            e = assertThrows(IllegalArgumentException.class, () -> w.append(Arrays.copyOf(m[0], 17), Arrays.copyOf(m[1], 18), new float[]{0})).getMessage();
            assertTrue(e.contains("got 17 and 18"), e);
            assertThrows(IllegalStateException.class, () -> w.shardSamples(3));
        } // closed without finish(): its shards are removed, no manifest
        assertTrue(!Files.exists(plain.resolve("shard-00000.safetensors")) && !Files.exists(plain.resolve(DatasetDir.MANIFEST)));
        assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(plain));
        try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(dir.resolve("empty"), new int[]{2, 3, 3}, 3, SD)) {
            assertTrue(assertThrows(IllegalArgumentException.class, w::finish).getMessage().contains("no samples"));
        }
        assertThrows(IllegalArgumentException.class, () -> new BatchSource.Posterior(0f, 0f, null));
    }

    @Test
    void malformedMomentsManifestsGiveOneClearLine(@TempDir Path dir) throws Exception {
        float[][] m = moments(4);
        float[] labels = {0, 1, 0, 1};
        Path d = dir.resolve("m");
        DatasetDir.writeMoments(d, m[0], m[1], new int[]{2, 3, 3}, labels, 2, SD, null, null, null, "t");
        Path mf = d.resolve(DatasetDir.MANIFEST);
        String good = Files.readString(mf);
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(good.replace("\"scale\" : 0.18215", "\"scale\" : 0"), "field 'posterior.scale' = 0");
        cases.put(good.replace("\"scale\" : 0.18215", "\"scale\" : \"0.18215\""), "field 'posterior.scale' = \"0.18215\"");
        cases.put(good.replace("\"shift\" : 0.25,", ""), "field 'posterior.shift' = (missing)");
        cases.put(good.replaceAll("\"posterior\" : \\{[^}]*},", ""), "field 'posterior' must be");
        cases.put(good.replace("erw-dataset/2", "erw-dataset/1"), "field 'posterior' needs \"format\": \"erw-dataset/2\"");
        cases.put(good.replace("\"vae\" : \"test-vae\"", "\"vae\" : 3"), "field 'posterior.vae' = 3");
        for (var c : cases.entrySet()) {
            assertTrue(!c.getKey().equals(good), c.getValue());
            Files.writeString(mf, c.getKey());
            String e = assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(d)).getMessage();
            assertTrue(e.startsWith(mf.toString()) && e.contains(c.getValue()) && !e.contains("\n"), e);
        }
        // a shard without the std, and a plain manifest over shards that hold one
        Files.writeString(mf, good);
        SafeTensors.write(d.resolve("shard-00000.safetensors"), Map.of(
                "images", new SafeTensors.Tensor(new long[]{4, 2, 3, 3}, m[0]), "labels", new SafeTensors.Tensor(new long[]{4}, labels)), Map.of());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(d)).getMessage().contains("missing tensor 'posterior_std'"));
        SafeTensors.write(d.resolve("shard-00000.safetensors"), Map.of(
                "images", new SafeTensors.Tensor(new long[]{4, 2, 3, 3}, m[0]), "labels", new SafeTensors.Tensor(new long[]{4}, labels),
                DatasetDir.STD, new SafeTensors.Tensor(new long[]{4, 2, 3, 3}, m[1])), Map.of());
        DatasetDir.open(d).close();
        Files.writeString(mf, good.replace("erw-dataset/2", "erw-dataset/1").replaceAll("\"posterior\" : \\{[^}]*},", ""));
        String e = assertThrows(IllegalArgumentException.class, () -> DatasetDir.open(d)).getMessage();
        assertTrue(e.contains("holds posterior moments ('posterior_std') but") && e.contains("has no field 'posterior'"), e);
    }
}
