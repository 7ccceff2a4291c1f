package erw.tests;

/** Marker for the end-to-end test module; shared helpers for the tests live here. */
public final class TestData {
    private TestData() {}
}
