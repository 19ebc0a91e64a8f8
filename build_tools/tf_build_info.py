"""Prints the TensorFlow build facts CMake needs, one KEY=value per line."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

libdir = tf.sysconfig.get_lib()
framework = next(f[3:] for f in tf.sysconfig.get_link_flags() if f.startswith("-l:"))
cflags = [f for f in tf.sysconfig.get_compile_flags() if not f.startswith("-I")]
print(f"TF_VERSION={tf.__version__}")
print(f"TF_INCLUDE={tf.sysconfig.get_include()}")
print(f"TF_LIBDIR={libdir}")
print(f"TF_FRAMEWORK_LIB={framework}")
print("TF_CFLAGS=" + " ".join([f"-I{tf.sysconfig.get_include()}"] + cflags))
sys.exit(0)
