"""File sensor (host board): the value is the text of a file, read at each sample."""
from device import config, model

KEYS = "path:S"


class FileSensor:
    error = None  # why the last read gave no value
    size = 64     # characters read: a number; text gets its own (an instance attribute only then)

    def __init__(self, board, spec, s):
        self.path = config.rel(board, s["path"])
        self.dtype = dtype = spec["dataType"]
        if dtype == "string" or dtype[-4:] == "List":
            self.size = 2600

    def read(self):
        try:
            with open(self.path) as f:
                # read(n) allocates n bytes up front: a number needs few.
                t = f.read(self.size)
        except OSError:
            self.error = "cannot read " + self.path
            return None
        try:
            return model.parse(self.dtype, t.strip() if self.dtype != "string" else t.rstrip("\n"))
        except ValueError:
            self.error = "unparsable value in " + self.path
            return None


make = FileSensor
