"""Prints the pyarrow build facts CMake needs, one KEY=value per line."""
import glob
import os

import pyarrow

libdir = pyarrow.get_library_dirs()[0]
arrow = os.path.basename(sorted(glob.glob(os.path.join(libdir, "libarrow.so.*")))[0])
arrow_s3 = os.path.basename(sorted(glob.glob(os.path.join(libdir, "libarrow_s3.so.*")))[0])
print(f"ARROW_VERSION={pyarrow.__version__}")
print(f"ARROW_INCLUDE={pyarrow.get_include()}")
print(f"ARROW_LIBDIR={libdir}")
print(f"ARROW_LIB={arrow}")
print(f"ARROW_S3_LIB={arrow_s3}")
