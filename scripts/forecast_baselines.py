#!/usr/bin/env python3
# statsmodels baselines for docs/forecasting.md: MAE and RMSE on a validation tail held out from the end of each
# series in ../shared/data/timeseries (sunspots: the last 20 years, 1969-1988; CO2: the last 157 weeks, 1996-1998),
# the same tails `synth forecast --holdout N` scores. Missing CO2 values (empty fields) are filled by linear
# interpolation, as synth does. Reference: statsmodels (version printed), numpy, pandas.
# Usage: python3 scripts/forecast_baselines.py [--data ../shared/data/timeseries]
import argparse
import os
import warnings

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.ar_model import AutoReg, ar_select_order
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.holtwinters import ExponentialSmoothing

HERE = os.path.dirname(os.path.abspath(__file__))


def scores(pred, tail):
    e = np.asarray(pred) - tail
    return float(np.mean(np.abs(e))), float(np.sqrt(np.mean(e * e)))


def load(path, column):
    x = pd.read_csv(path)[column].astype(float)
    return x.interpolate(method="linear", limit_area="inside").dropna().to_numpy()


def report(name, rows):
    print(f"## {name}")
    print("| model | MAE | RMSE |")
    print("|---|---|---|")
    for label, pred, tail in rows:
        mae, rmse = scores(pred, tail)
        print(f"| {label} | {mae:.2f} | {rmse:.2f} |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "timeseries"))
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"statsmodels {statsmodels.__version__}, numpy {np.__version__}, pandas {pd.__version__}\n")

    x = load(os.path.join(a.data, "sunspots.csv"), "sunactivity")
    h = 20
    train, tail = x[:-h], x[-h:]
    rows = []
    arima = ARIMA(train, order=(9, 0, 0), trend="c").fit()
    rows.append(("ARIMA(9,0,0) (exact MLE)", arima.forecast(h), tail))
    sel = ar_select_order(train, maxlag=30, ic="aic", trend="c")
    res = sel.model.fit()
    rows.append((f"AutoReg, AIC lags (maxlag 30: {len(sel.ar_lags)} lags)", res.predict(len(train), len(train) + h - 1), tail))
    res9 = AutoReg(train, lags=9, trend="c").fit()
    rows.append(("AutoReg(9) (OLS)", res9.predict(len(train), len(train) + h - 1), tail))
    rows.append(("mean of the training years", np.full(h, train.mean()), tail))
    rows.append(("last value", np.full(h, train[-1]), tail))
    report(f"sunspots: train {len(train)} years (1700-1968), tail {h} years (1969-1988)", rows)

    y = load(os.path.join(a.data, "co2_weekly.csv"), "co2_ppm")
    h = 157
    train, tail = y[:-h], y[-h:]
    rows = []
    res104 = AutoReg(train, lags=104, trend="ct").fit()
    rows.append(("AutoReg(104) with trend (OLS)", res104.predict(len(train), len(train) + h - 1), tail))
    sel = ar_select_order(train, maxlag=104, ic="aic", trend="ct")
    res = sel.model.fit()
    rows.append((f"AutoReg with trend, AIC lags (maxlag 104: {len(sel.ar_lags)} lags)", res.predict(len(train), len(train) + h - 1), tail))
    hw = ExponentialSmoothing(train, trend="add", seasonal="add", seasonal_periods=52).fit()
    rows.append(("Holt-Winters (additive trend and 52-week season)", hw.forecast(h), tail))
    rows.append(("last value", np.full(h, train[-1]), tail))
    report(f"CO2: train {len(train)} weeks (1958-1995), tail {h} weeks (1996-1998)", rows)


if __name__ == "__main__":
    main()
