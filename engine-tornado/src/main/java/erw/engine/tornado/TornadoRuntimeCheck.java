package erw.engine.tornado;

import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/** Whether TornadoVM's runtime is loaded in this JVM and has a device, in words for the user. */
public final class TornadoRuntimeCheck {
    private TornadoRuntimeCheck() {}

    private static volatile String reason;
    private static volatile boolean checked;

    /** Null when usable, else why not. */
    public static String unavailableReason() {
        if (!checked) {
            synchronized (TornadoRuntimeCheck.class) {
                if (!checked) {
                    reason = probe();
                    checked = true;
                }
            }
        }
        return reason;
    }

    /** The default device in words, e.g. "OpenCL pthread-... (Portable Computing Language)". */
    public static String deviceDescription() {
        TornadoDevice d = TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
        return d.getPhysicalDevice().getDeviceName() + " (" + d.getPlatformName() + ")";
    }

    private static String probe() {
        if (System.getProperty("tornado.load.runtime.implementation") == null) {
            return "TornadoVM is not loaded in this JVM: start erw with TornadoVM's 'tornado' launcher "
                    + "(or './erw' with TORNADO_SDK set), see README 'GPU with TornadoVM'";
        }
        try {
            if (TornadoRuntimeProvider.getTornadoRuntime().getNumBackends() == 0) return "TornadoVM found no backend (no OpenCL/PTX/SPIR-V driver)";
            TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
            return null;
        } catch (Throwable t) {
            return "TornadoVM could not start: " + Execution.rootMessage(t);
        }
    }
}
