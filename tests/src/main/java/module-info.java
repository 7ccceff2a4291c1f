/** End-to-end tests across the modules (the tests live under src/test). */
module erw.tests {
    requires erw;
    requires info.picocli;
    requires java.desktop;
    exports erw.tests;
}
