# Makes test/ a package so that "python3 -m unittest test/test_mock.py" finds
# test/test_mock.py rather than the standard library's "test" package.
