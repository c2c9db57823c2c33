"""Shared helpers of the test suite (no tests here): ``api`` for the mocked API, ``sim`` for
simulator-backed downloads (``check_dest``, ``new_client``) and ``cli`` for the `ninepic` CLI."""
