package erw.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Precision}'s roundings: nearest, ties to even, overflow to infinity, NaN kept; and the option's parsing. */
class PrecisionTest {
    private static float bits(int b) {
        return Float.intBitsToFloat(b);
    }

    @Test
    void bf16RoundsToNearestTiesToEven() {
        Precision p = Precision.BF16;
        assertEquals(1f, p.round(1f));
        assertEquals(1f, p.round(bits(0x3f808000)));           // 1 + 2^-8: a tie, down to the even 1
        assertEquals(bits(0x3f820000), p.round(bits(0x3f818000))); // 1 + 3 * 2^-8: a tie, up to the even 1 + 2^-6
        assertEquals(bits(0x3f810000), p.round(bits(0x3f808001))); // just above the tie: up
        assertEquals(bits(0x3f800000), p.round(bits(0x3f807fff))); // just below: down
        assertEquals(-p.round(1.2345f), p.round(-1.2345f));
        assertEquals(Float.POSITIVE_INFINITY, p.round(Float.MAX_VALUE)); // rounds past the largest bf16
        assertEquals(bits(0x7f7f0000), p.round(bits(0x7f7f7fff)));
        assertEquals(Float.NEGATIVE_INFINITY, p.round(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(p.round(bits(0x7f800001))));     // a NaN whose payload is all in the dropped bits
        assertTrue(Float.isNaN(p.round(bits(0xffffffff))));
        assertEquals(0f, p.round(Float.MIN_VALUE));              // the smallest subnormal rounds to zero
        assertEquals(bits(0x3f9e0000), p.round(1.2345f));        // 1.2345 = 0x3f9e0419: 1.234375
        for (int i = -256; i <= 256; i++) {                       // integers up to 2^8 are exact
            assertEquals((float) i, p.round(i));
        }
    }

    @Test
    void tf32KeepsTenMantissaBits() {
        Precision p = Precision.TF32;
        assertEquals(bits(0x3f800000), p.round(bits(0x3f801000))); // 1 + 2^-11: a tie, down to even
        assertEquals(bits(0x3f804000), p.round(bits(0x3f803000))); // 1 + 3 * 2^-11: a tie, up to even
        assertEquals(bits(0x3f802000), p.round(bits(0x3f801001)));
        assertEquals(bits(0x3f9e0000), p.round(1.2345f));           // 0x3f9e0419: the dropped 13 bits are below half
        assertEquals(1.2345f, Precision.FP32.round(1.2345f));
        float x = 0.1f;
        assertTrue(Math.abs(p.round(x) - x) <= Math.ulp(x) * (1 << 12)); // within half an ulp of 10 bits
    }

    @Test
    void parsesTheOptionOrNamesIt() {
        assertEquals(Precision.BF16, Precision.parse("--precision", "BF16"));
        assertEquals(Precision.TF32, Precision.parse("--precision", " tf32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("--precision", "fp16"));
        assertEquals("--precision = fp16 must be fp32, tf32 or bf16", e.getMessage());
    }
}
