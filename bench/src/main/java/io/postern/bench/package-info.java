/** JMH benchmarks and the load driver (performance issue). Not part of the runtime. */
package io.postern.bench;
