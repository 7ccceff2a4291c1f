package erw.training.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.model.io.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
