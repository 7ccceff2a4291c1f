/** erw.cli */
package erw.cli;
