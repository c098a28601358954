"""Treatment phases: the program's steps of control (model.py), their file (file.py) and
stepping a client down and up (service.py)."""
