"""The crowding forecast on real data: daily distinct devices per facility at the Kanazawa
cluster (Hokuriku consortium Wi-Fi sensor stays, MIT licence, /work/shared/realdata), loaded
through sources/examples/hokuriku_stays.yaml, the marts built by the SQL models, the last 14
days held out. Records the MASE against the seasonal-naive forecast (same weekday a week
earlier) and the interval coverage, computed here independently of flowlib.forecast's
summary.

Locally the test skips when /work/shared is missing; with CI=true it fails instead.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_kanazawa_stays

from flowlib import forecast as fc
from flowlib.models import build_range
from flowlib.warehouse import writer

FIRST, LAST = date(2024, 8, 26), date(2024, 10, 30)
HOLDOUT_DAYS = 14
#: The campaign gives about two weeks before the holdout: below the nightly default of 28 days.
MIN_HISTORY_DAYS = 14
MODELS = [
    "int_sensor_stays",
    "int_codes",
    "int_stop_rows",
    "int_stops",
    "int_trips",
    "int_visitor_days",
    "facility_visits_by_period",
    "facility_daily",
    "facility_entries_hourly",
]


@pytest.fixture(scope="module")
def kanazawa(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[fc.ForecastRun, dict]:
    settings = load_kanazawa_stays(realdata, tmp_path_factory.mktemp("kanazawa"), "kanazawa-test-key")
    with writer(settings) as con:
        build_range(con, FIRST, LAST, settings, only=MODELS)
        series, last_days = fc.read_series(con)
        hourly = fc.read_hourly(con)
    series = [s for s in series if s.source_kind == "wifi_sensor"]
    # The sensors counted as a cluster from late September until the campaign wound down:
    # the series ends on the last day on which at least half of the facilities counted someone.
    matrix = pd.DataFrame({s.facility_id: s.values for s in series})
    end = matrix.index[(matrix > 0).sum(axis=1) >= len(series) / 2].max()
    origin = end - pd.Timedelta(days=HOLDOUT_DAYS)
    truth = {s.facility_id: s.values[s.values.index <= end] for s in series}
    trimmed = [fc.Series(s.source_kind, s.facility_id, s.values[s.values.index <= origin], s.kind_first_day) for s in series]
    run = fc.run_forecast(trimmed, {"wifi_sensor": origin}, None, hourly, backtest=False, min_history_days=MIN_HISTORY_DAYS)
    return run, truth, origin


def test_kanazawa_holdout_beats_seasonal_naive(kanazawa):
    run, truth, origin = kanazawa
    assert origin == pd.Timestamp("2024-10-10"), "the campaign's last full day is 2024-10-24"
    daily = run.daily[run.daily["status"] == "forecast"]
    stated = run.daily[run.daily["status"] != "forecast"]
    assert set(stated["status"]) <= {"insufficient_history", "recently_opened", "no_recent_data"}
    assert (stated["reason_en"] != "").all() and stated["forecast"].isna().all()
    assert daily["facility_id"].nunique() >= 6, "half of the Kanazawa facilities have two weeks before the holdout"
    scaled, model_errors, naive_errors, inside80, inside95 = [], [], [], [], []
    for facility, rows in daily.groupby("facility_id"):
        values = truth[facility]
        history = values[values.index <= origin].to_numpy(dtype=float)
        # independent MASE scale: mean |y_t - y_{t-7}| over the training days
        scale = np.nanmean([abs(history[t] - history[t - 7]) for t in range(7, len(history))])
        for row in rows.itertuples(index=False):
            day = pd.Timestamp(row.forecast_date)
            actual = values.get(day, np.nan)
            naive = values.get(day - pd.Timedelta(days=7 * int(np.ceil(row.horizon_days / 7))), np.nan)
            if day > values.index.max() or not (np.isfinite(actual) and np.isfinite(naive)) or scale == 0:
                continue
            scaled.append(abs(actual - row.forecast) / scale)
            model_errors.append(abs(actual - row.forecast))
            naive_errors.append(abs(actual - naive))
            inside80.append(row.lo80 <= actual <= row.hi80)
            inside95.append(row.lo95 <= actual <= row.hi95)
    mase = float(np.mean(scaled))
    relative = sum(model_errors) / sum(naive_errors)
    coverage80, coverage95 = float(np.mean(inside80)), float(np.mean(inside95))
    print(
        f"Kanazawa holdout ({len(scaled)} facility-days): MASE {mase:.3f}, MAE vs seasonal naive "
        f"{relative:.3f}, 80% coverage {coverage80:.2f}, 95% coverage {coverage95:.2f}"
    )
    assert len(scaled) >= 6 * HOLDOUT_DAYS
    # Measured (README "Crowding forecast"): MASE 0.79, MAE 1.54 x seasonal naive, 80 % coverage
    # 0.52, 95 % coverage 0.83. The campaign's counts halved during the two training weeks
    # (late September's opening surge), the model's weekday pattern averages over that fall
    # while last week's value already sits at the new level: on this series the seasonal naive
    # wins and the intervals are too narrow. docs/forecast.md "Limits" says so; these bounds
    # guard the recorded figures against regressions, they do not claim the model wins here.
    assert mase < 1.0, "scaled by the in-sample seasonal-naive error, the model must stay below 1"
    assert relative < 2.0
    assert coverage80 >= 0.4 and coverage95 >= 0.7
    assert coverage95 >= coverage80
