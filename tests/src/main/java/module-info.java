/** End-to-end tests across the modules (the tests live under src/test). */
module erw.tests {
    requires erw;
    requires info.picocli;
    exports erw.tests;
}
