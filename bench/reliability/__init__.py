"""The reliability and disclosure machinery: a throw-away demo root with planted ids
(:mod:`.harness`), the SIGKILL chain (:mod:`.crash`), the hostile input corpus
(:mod:`.corpus`) and the differencing attacks on published marts (:mod:`.differencing`) and
open data (:mod:`.open_data_attacks`). ``bench/reliability_report.py`` measures with it and
the tests under tests/reliability/ and tests/disclosure/ assert with it, so both use the
same code and the benchmark imports no test module."""
