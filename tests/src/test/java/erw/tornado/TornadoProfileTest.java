package erw.tornado;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Says, in every test run, whether the TornadoVM parity tests (module engine-tornado) were part of
 * it: they are built and run only with a TornadoVM SDK (TORNADO_SDK set, Maven profile 'tornado').
 */
class TornadoProfileTest {
    @Test
    void tornadoParityTestsRunWhenAnSdkIsInstalled() {
        String sdk = System.getenv("TORNADO_SDK");
        if (sdk == null) {
            System.err.println("[erw] TornadoVM parity tests SKIPPED: TORNADO_SDK is not set (no TornadoVM SDK; see README 'GPU with TornadoVM')");
        }
        assumeTrue(sdk != null, "TornadoVM parity tests skipped: TORNADO_SDK is not set, so the 'tornado' profile (engine-tornado) is not built");
        assertTrue(Files.isExecutable(Path.of(sdk, "bin", "tornado")), "TORNADO_SDK=" + sdk + " has no bin/tornado: the tornado profile cannot run its tests");
    }
}
