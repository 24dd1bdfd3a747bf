// Compiled at run time inside the Spark JVM by Janino (the compiler Spark's own code generation uses),
// so the loop runs in the JVM with no py4j call per row. See helpers/lab/zerocopy, `row_queue_cost`.
//
// What it measures: the copy EvalPythonExec makes of every input row of a @udf / @pandas_udf
// (BatchEvalPython, ArrowEvalPython): each child row is added to a HybridRowQueue before it is sent
// to Python, and removed again to be joined with the UDF's result (Spark 3.5,
// sql/core/src/main/scala/org/apache/spark/sql/execution/python/EvalPythonExec.scala and RowQueue.scala;
// 4.x: EvalPythonEvaluatorFactory.scala).
// mapInPandas / mapInArrow (MapInBatchExec) keep no such queue.
public class RowQueueProbe {
  // Returns {best nanoseconds over `repeats` for add + remove of all rows, bytes written to the queue}.
  public long[] run(org.apache.spark.sql.catalyst.InternalRow[] rows, int numFields, int repeats) throws Throwable {
    org.apache.spark.memory.MemoryManager memory = envMemoryManager();
    long best = Long.MAX_VALUE;
    for (int r = 0; r < repeats; r++) {
      org.apache.spark.memory.TaskMemoryManager tmm =
          new org.apache.spark.memory.TaskMemoryManager(memory, 0L);
      java.io.File dir = org.apache.spark.util.Utils.createTempDir(System.getProperty("java.io.tmpdir"), "lab-row-queue");
      // the companion's apply(memory manager, dir, fields), as EvalPythonExec calls it in 3.5; 4.x
      // passes a fourth argument, lockFree = spark.python.udf.pipelined.enabled (default false),
      // which this apply leaves at its default (false)
      org.apache.spark.sql.execution.python.HybridRowQueue queue =
          org.apache.spark.sql.execution.python.HybridRowQueue$.MODULE$.apply(tmm, dir, numFields);
      try {
        long t0 = System.nanoTime();
        for (int i = 0; i < rows.length; i++) {
          queue.add((org.apache.spark.sql.catalyst.expressions.UnsafeRow) rows[i]);
        }
        for (int i = 0; i < rows.length; i++) {
          queue.remove();
        }
        long t = System.nanoTime() - t0;
        if (t < best) best = t;
      } finally {
        queue.close();
        tmm.cleanUpAllAllocatedMemory();
        org.apache.spark.network.util.JavaUtils.deleteRecursively(dir);
      }
    }
    long bytes = 0;
    for (int i = 0; i < rows.length; i++) {  // each entry: a 4-byte length, then the UnsafeRow's bytes
      bytes += 4 + ((org.apache.spark.sql.catalyst.expressions.UnsafeRow) rows[i]).getSizeInBytes();
    }
    return new long[] {best, bytes};
  }

  // SparkEnv.get().memoryManager(), looked up by method handle: naming SparkEnv in this source (or
  // calling it through py4j) reflects over all of its methods, which on Spark 4.3 fails with
  // NoClassDefFoundError: com/google/protobuf/MessageOrBuilder; a method handle resolves one method.
  private static org.apache.spark.memory.MemoryManager envMemoryManager() throws Throwable {
    Class envClass = Class.forName(
        "org.apache.spark.SparkEnv", true, Thread.currentThread().getContextClassLoader());
    java.lang.invoke.MethodHandles.Lookup lookup = java.lang.invoke.MethodHandles.publicLookup();
    Object env = lookup.findStatic(envClass, "get", java.lang.invoke.MethodType.methodType(envClass))
        .invokeWithArguments(new Object[0]);
    return (org.apache.spark.memory.MemoryManager) lookup.findVirtual(envClass, "memoryManager",
        java.lang.invoke.MethodType.methodType(org.apache.spark.memory.MemoryManager.class))
        .invokeWithArguments(new Object[] {env});
  }

  // The join back after Python (EvalPythonExec: resultProj(joined(queue.remove(), outputRow))): each
  // input row joined with a result row and projected to one new UnsafeRow of `outSchema`.
  // Returns {best nanoseconds over `repeats`, bytes of the projected rows}.
  public long[] joinProject(org.apache.spark.sql.catalyst.InternalRow[] rows,
                            org.apache.spark.sql.catalyst.InternalRow result,
                            org.apache.spark.sql.types.StructType outSchema, int repeats) {
    org.apache.spark.sql.catalyst.expressions.UnsafeProjection proj =
        org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(outSchema);
    org.apache.spark.sql.catalyst.expressions.JoinedRow joined =
        new org.apache.spark.sql.catalyst.expressions.JoinedRow();
    long best = Long.MAX_VALUE;
    long bytes = 0;
    for (int r = 0; r < repeats; r++) {
      long sum = 0;
      long t0 = System.nanoTime();
      for (int i = 0; i < rows.length; i++) {
        org.apache.spark.sql.catalyst.expressions.UnsafeRow out = proj.apply(joined.apply(rows[i], result));
        sum += out.getSizeInBytes();
      }
      long t = System.nanoTime() - t0;
      if (t < best) best = t;
      bytes = sum;
    }
    return new long[] {best, bytes};
  }

  // The way back of mapInPandas / mapInArrow (MapInBatchExec): the worker returns one struct column;
  // Spark exposes its children as the output columns and projects each row of them to an UnsafeRow
  // of `flat`. Here: for each row of `rows` (rows read from the IPC result), project its struct field 0.
  // With `project` false, only iterate (the read alone, to subtract). Returns {nanoseconds for the
  // whole iteration, bytes of the projected rows, number of rows}.
  public long[] structProject(scala.collection.Iterator rows, org.apache.spark.sql.types.StructType flat,
                              boolean project) {
    org.apache.spark.sql.catalyst.expressions.UnsafeProjection proj =
        org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(flat);
    int width = flat.fields().length;
    long bytes = 0;
    long n = 0;
    long t0 = System.nanoTime();
    while (rows.hasNext()) {
      org.apache.spark.sql.catalyst.InternalRow row = (org.apache.spark.sql.catalyst.InternalRow) rows.next();
      if (project) {
        bytes += proj.apply(row.getStruct(0, width)).getSizeInBytes();
      }
      n++;
    }
    return new long[] {System.nanoTime() - t0, bytes, n};
  }
}
