/** erw.model.io */
package erw.model.io;
