/** erw.engine */
package erw.engine;
