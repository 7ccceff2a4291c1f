/** erw.sampler */
package erw.sampler;
