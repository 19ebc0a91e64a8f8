"""`python -m tf_ffm ...` is the `tf-ffm` command."""
import sys

from tf_ffm.cli import main

sys.exit(main())
