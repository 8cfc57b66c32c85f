"""A synthetic earnings-event table modelled on NSE results days.

Each row is one company's quarterly results announcement between January 2022 and May 2026. A
latent probability of an upper-circuit close is built from the features through saturating,
interacting effects (an earnings surprise matters more for a small cap on a 5 % band than for a large
cap on a 20 % band), a season-level market regime that drifts over time, and sector effects. The
label is drawn from that probability, then flipped with a small probability (label noise). The
features are then observed with realistic gaps, so the models never see the full picture.

The probability of the observed label is returned beside the table (never as a feature): it is the
ceiling any model can reach, which benchmarks compare against. See ``data/README.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from uctune.errors import ConfigError

__all__ = ["SECTORS", "generate"]

# (name, share of companies, operating margin %, chance of a new-order announcement)
SECTORS: tuple[tuple[str, float, float, float], ...] = (
    ("Automobile", 0.08, 13.0, 0.12),
    ("Banking & Finance", 0.12, np.nan, 0.02),
    ("Capital Goods", 0.11, 12.0, 0.38),
    ("Chemicals", 0.10, 16.0, 0.08),
    ("Consumer Goods", 0.09, 15.0, 0.05),
    ("Healthcare", 0.09, 19.0, 0.07),
    ("Information Technology", 0.09, 21.0, 0.18),
    ("Infrastructure", 0.07, 14.0, 0.40),
    ("Metals & Mining", 0.06, 15.0, 0.06),
    ("Oil & Gas", 0.04, 11.0, 0.05),
    ("Realty", 0.06, 24.0, 0.10),
    ("Textiles", 0.09, 10.0, 0.06),
)

# Results seasons: (first day, fiscal quarter reported). 18 seasons from Q3 FY22 to Q4 FY26.
_SEASON_STARTS = {1: (7, 15), 2: (10, 10), 3: (1, 15), 4: (4, 20)}  # fiscal quarter -> (month, day)
_SEASON_DAYS = 42
_EPS = 0.004  # label-flip probability
_TARGET_PREVALENCE = 0.07
_SCALE = 1.6  # spread of the day's unexplained move, in percent


def _seasons() -> list[tuple[pd.Timestamp, int]]:
    out = []
    for year in range(2022, 2027):
        for fq in (3, 4, 1, 2):
            month, day = _SEASON_STARTS[fq]
            start = pd.Timestamp(year=year, month=month, day=day)
            if start <= pd.Timestamp("2026-05-31"):
                out.append((start, fq))
    return out


def _symbols(rng: np.random.Generator, n: int) -> np.ndarray:
    heads = [
        "AR",
        "BH",
        "CH",
        "DE",
        "GA",
        "HI",
        "JA",
        "KA",
        "LA",
        "MA",
        "NA",
        "PA",
        "RA",
        "SA",
        "SU",
        "TA",
        "VA",
        "VI",
        "YA",
        "ZE",
    ]
    mids = ["AN", "ER", "IN", "OR", "UL", "EK", "AV", "IT", "OM", "AS", "AM", "UR"]
    tails = [
        "TEX",
        "CHEM",
        "IND",
        "FIN",
        "POWER",
        "INFRA",
        "PHARM",
        "TECH",
        "AUTO",
        "STEEL",
        "AGRO",
        "LABS",
        "ENG",
        "CAP",
        "SOFT",
        "MET",
        "GAS",
        "REAL",
        "CORP",
        "LTD",
    ]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = rng.choice(heads) + rng.choice(mids) + rng.choice(tails)
        if rng.random() < 0.3:
            name = rng.choice(heads) + rng.choice(tails)
        if name in seen:
            name = f"{name}{len(seen) % 97}"
            if name in seen:
                continue
        seen.add(name)
        out.append(name)
    return np.array(out)


def _t(rng: np.random.Generator, df: float, size: int) -> np.ndarray:
    """Student-t noise scaled to unit variance-ish: heavy tails without infinite spread."""
    return rng.standard_t(df, size) / np.sqrt(df / (df - 2)) if df > 2 else rng.standard_t(df, size)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def generate(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(events, truth)``: the feature table and each row's true label probability.

    Deterministic for a given ``rows`` and ``seed``.
    """
    if rows < 100:
        raise ConfigError(f"--rows must be at least 100, got {rows}")
    rng = np.random.default_rng(seed)
    seasons = _seasons()
    n_seasons = len(seasons)

    # --- companies -----------------------------------------------------------------------------
    n_comp = int(np.ceil(rows / (n_seasons * 0.75)))
    names, shares, base_opm, order_rate = zip(*SECTORS, strict=True)
    sector_idx = rng.choice(len(SECTORS), n_comp, p=np.array(shares) / sum(shares))
    quality = rng.normal(0, 1, n_comp)
    size = np.clip(rng.normal(7.4, 1.6, n_comp) + 0.3 * quality, 3.6, 13.5)  # ln(market cap, Rs cr)
    # Surveillance puts weak small caps on 5 % bands; mid caps sometimes on 10 %; most on 20 %.
    band_score = -0.8 * quality - 0.45 * (size - 7.4) + rng.normal(0, 1, n_comp)
    band = np.where(band_score > 1.15, 5, np.where(band_score > 0.85, 10, 20))
    listing_season = np.where(rng.random(n_comp) < 0.22, rng.integers(0, n_seasons - 2, n_comp), -8)
    seasonal = rng.normal(
        0, 4.0, (n_comp, 4)
    )  # the company's typical QoQ revenue growth per quarter
    seasonal -= seasonal.mean(axis=1, keepdims=True)
    momentum_c = rng.normal(0, 0.6, n_comp)
    sector_effect = rng.normal(0, 0.3, len(SECTORS))
    sector_beta = rng.uniform(0.7, 1.4, len(SECTORS))

    # --- events: company x season pairs after listing --------------------------------------------
    comp_grid, season_grid = np.meshgrid(np.arange(n_comp), np.arange(n_seasons), indexing="ij")
    eligible = season_grid >= np.maximum(listing_season, 0)[:, None]
    pairs = np.column_stack([comp_grid[eligible], season_grid[eligible]])
    take = rng.choice(len(pairs), size=min(rows, len(pairs)), replace=False)
    pairs = pairs[np.sort(take)]
    c, s = pairs[:, 0], pairs[:, 1]
    n = len(c)
    sec = sector_idx[c]
    fq = np.array([seasons[i][1] for i in s])
    offsets = rng.integers(0, _SEASON_DAYS, n)
    dates = pd.to_datetime([seasons[i][0] for i in s]) + pd.to_timedelta(offsets, unit="D")
    dates = dates + pd.to_timedelta(
        np.select([dates.day_of_week == 5, dates.day_of_week == 6], [2, 1], 0), unit="D"
    )
    age = s - listing_season[c]  # seasons since listing

    # Market regime per season: a bull run through 2023-24 with more circuits, a 2025 correction.
    season_year = np.array(
        [seasons[i][0].year + seasons[i][0].month / 12 for i in range(n_seasons)]
    )
    regime = (
        0.9 * np.exp(-((season_year - 2024.0) ** 2) / 0.9)
        - 0.5 * np.exp(-((season_year - 2025.3) ** 2) / 0.2)
        + rng.normal(0, 0.25, n_seasons)
    )
    m = regime[s]

    # --- fundamentals ---------------------------------------------------------------------------
    business = 0.35 * quality[c] + rng.normal(0, 1, n)  # this quarter's business momentum
    revenue_yoy = 11 + 9 * business + 7 * _t(rng, 3, n)
    revenue_qoq = seasonal[c, fq - 1] + revenue_yoy / 4 + 4 * _t(rng, 4, n)
    hidden_surprise = 0.9 * business + rng.normal(0, 0.7, n)  # what the market did not expect
    pat_yoy = 14 + 22 * business + 18 * hidden_surprise + 28 * _t(rng, 2.5, n)
    pat_yoy = np.where(rng.random(n) < 0.06, pat_yoy * rng.uniform(3, 12, n), pat_yoy)  # tiny bases
    pat_yoy = np.clip(pat_yoy, -400, 2500)
    pat_qoq = np.clip(1.4 * seasonal[c, fq - 1] + 0.3 * pat_yoy + 20 * _t(rng, 2.5, n), -400, 2500)
    dilution = rng.uniform(0, 4, n)
    eps_yoy = np.clip(pat_yoy - dilution + 3 * rng.normal(0, 1, n), -400, 2500)
    eps_qoq = np.clip(pat_qoq - dilution / 4 + 3 * rng.normal(0, 1, n), -400, 2500)
    opm = np.array(base_opm)[sec] + 3 * quality[c] + 1.2 * business + 2.5 * rng.normal(0, 1, n)
    debt_to_equity = np.clip(np.exp(rng.normal(-0.7 - 0.3 * quality[c], 0.8)), 0, 9)
    npm = np.where(np.isnan(opm), 14 + 4 * quality[c], opm) * 0.55 - 1.8 * debt_to_equity
    npm = npm + 2 * rng.normal(0, 1, n)
    exceptional_items = (rng.random(n) < 0.08).astype(float)
    # An exceptional gain inflates PAT without changing the business: the market sees through it.
    pat_boost = exceptional_items * rng.uniform(10, 120, n)
    pat_yoy = pat_yoy + pat_boost
    eps_yoy = eps_yoy + pat_boost

    # --- technicals ------------------------------------------------------------------------------
    run_up = momentum_c[c] + 0.5 * m + 0.4 * hidden_surprise + rng.normal(0, 0.8, n)  # pre-results
    rsi_14 = np.clip(50 + 11 * run_up + 6 * rng.normal(0, 1, n), 4, 97)
    price_change_1w = np.clip(2.2 * run_up + 3.0 * _t(rng, 3, n), -60, 60)
    dist_from_dma50 = 5.0 * run_up + 5.0 * rng.normal(0, 1, n)
    volume_spike = np.exp(
        0.25 * run_up + 0.3 * np.abs(hidden_surprise) + 0.45 * rng.normal(0, 1, n)
    )
    small = (band == 5)[c]
    uc_count_6m = rng.poisson(
        np.exp(-1.3 + 0.55 * run_up + 0.9 * small - 0.2 * (size[c] - 7.4) + 0.4 * m)
    ).astype(float)
    growth_years = season_year[s] - 2022.0
    log_market_cap = size[c] + 0.08 * growth_years + 0.04 * run_up + 0.05 * rng.normal(0, 1, n)

    # --- qualitative -----------------------------------------------------------------------------
    new_orders = (rng.random(n) < np.array(order_rate)[sec] * (1 + 0.5 * (business > 0.5))).astype(
        float
    )
    tone = 0.7 * business + 0.5 * hidden_surprise + rng.normal(0, 0.8, n)
    guidance_tone = np.select([tone > 0.8, tone < -0.8], [1.0, -1.0], 0.0)
    management_sentiment = np.tanh(0.5 * business + 0.4 * hidden_surprise + rng.normal(0, 0.6, n))

    # --- seasonality: the company's historical average QoQ revenue growth per fiscal quarter ------
    hist = seasonal[c, :3] + rng.normal(0, 1.5, (n, 3))
    fiscal_quarter = fq.astype(float)
    expected_qoq = np.where(fq <= 3, seasonal[c, np.minimum(fq, 3) - 1], seasonal[c, 3])
    revenue_surprise = revenue_qoq - expected_qoq - revenue_yoy / 4

    # --- VCP (volatility contraction pattern) -----------------------------------------------------
    tight = momentum_c[c] + rng.normal(0, 1, n)
    vcp_detected = (rng.random(n) < _sigmoid(-1.6 + 0.9 * tight)).astype(float)
    vcp_stage = np.where(
        vcp_detected == 1, np.clip(np.round(2 + tight + rng.normal(0, 0.7, n)), 1, 4), 0.0
    )
    vcp_contraction_depth = np.where(
        vcp_detected == 1, np.clip(30 - 4 * vcp_stage + 5 * rng.normal(0, 1, n), 4, 45), np.nan
    )

    # --- market context on the day ----------------------------------------------------------------
    day_key = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    days, day_of = np.unique(day_key, return_inverse=True)
    day_rng = np.random.default_rng(seed + 1)
    nifty_by_day = 0.05 + 0.9 * _t(day_rng, 4, len(days))
    nifty_change_1d = nifty_by_day[day_of] + 0.15 * m
    sector_shock = day_rng.normal(0, 0.7, (len(days), len(SECTORS)))
    sector_change_1d = sector_beta[sec] * nifty_change_1d + sector_shock[day_of, sec]
    market_breadth = np.exp(0.35 * nifty_change_1d + 0.25 * rng.normal(0, 1, n))

    # --- the latent probability -------------------------------------------------------------------
    era = np.clip((season_year[s] - 2022.0) / 4.0, 0, 1)  # drift: the market grows more reactive
    small_cap = np.clip((8.5 - size[c]) / 2.5, -1, 1.5)
    # The results-day move the market would make, in percent, before the day's own noise.
    surprise = (
        4.0 * (1.0 + 0.5 * era) * np.tanh(hidden_surprise / 1.1)
        + 2.0 * np.tanh((eps_qoq - 15) / 60)
        + 1.5 * np.tanh(revenue_surprise / 8)
    )
    move = (
        surprise * (1.0 + 0.6 * small_cap)
        + 3.0 * new_orders * (1 + 0.5 * (np.array(order_rate)[sec] > 0.3))
        + 1.2 * guidance_tone
        + 1.0 * management_sentiment
        - 1.0 * exceptional_items
        + 2.5 * vcp_detected * (0.5 + vcp_stage / 4) * (np.nan_to_num(vcp_contraction_depth) < 18)
        + 2.5 * np.clip(np.log(volume_spike) - 0.3, 0, None)
        - 3.0 * ((rsi_14 - 62) / 16) ** 2
        + 0.8 * np.minimum(uc_count_6m, 5)
        + 1.0 * nifty_change_1d
        + 0.6 * sector_change_1d
        + 1.5 * np.log(market_breadth)
        - 0.8 * np.log1p(debt_to_equity)
        + 2.0 * m
        + 3.0 * sector_effect[sec]
    )
    # An upper circuit needs the move to reach the band; wider bands are harder to reach.
    z = (move - 0.35 * band[c]) / _SCALE
    lo, hi = -15.0, 5.0  # bisection on the intercept to hit the target prevalence
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(z + mid).mean() > _TARGET_PREVALENCE:
            hi = mid
        else:
            lo = mid
    p_clean = _sigmoid(z + (lo + hi) / 2)
    p_observed = _EPS + (1 - 2 * _EPS) * p_clean
    label = (rng.random(n) < p_observed).astype(np.int64)

    # --- observation: realistic gaps --------------------------------------------------------------
    def gap(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        return np.where(missing, np.nan, values)

    first_year = age < 4  # no same quarter last year
    young = age < 8  # under two years of history
    financial = sec == names.index("Banking & Finance")
    thin = rng.random(n) < 0.03 + 0.05 * (size[c] < 6)
    frame = pd.DataFrame(
        {
            "symbol": _symbols(rng, n_comp)[c],
            "announcement_date": dates.strftime("%Y-%m-%d"),
            "sector": np.array(names)[sec],
            "circuit_band": band[c].astype(np.int64),
            "fiscal_quarter": fiscal_quarter.astype(np.int64),
            "revenue_qoq": gap(revenue_qoq, thin),
            "revenue_yoy": gap(revenue_yoy, first_year | thin),
            "pat_qoq": gap(pat_qoq, thin),
            "pat_yoy": gap(pat_yoy, first_year | thin),
            "eps_qoq": gap(eps_qoq, thin | (rng.random(n) < 0.02)),
            "eps_yoy": gap(eps_yoy, first_year | thin | (rng.random(n) < 0.02)),
            "opm": gap(opm, financial | thin),
            "npm": gap(npm, thin),
            "debt_to_equity": gap(debt_to_equity, financial | (rng.random(n) < 0.05)),
            "rsi_14": gap(rsi_14, age < 1),
            "volume_spike": volume_spike,
            "uc_count_6m": gap(uc_count_6m, age < 2),
            "price_change_1w": price_change_1w,
            "log_market_cap": log_market_cap,
            "dist_from_dma50": gap(dist_from_dma50, age < 1),
            "new_orders": new_orders,
            "guidance_tone": gap(guidance_tone, rng.random(n) < 0.2 + 0.15 * (size[c] < 6)),
            "management_sentiment": gap(
                management_sentiment, rng.random(n) < 0.15 + 0.2 * (size[c] < 6)
            ),
            "exceptional_items": exceptional_items,
            "season_q1_avg": gap(hist[:, 0], young),
            "season_q2_avg": gap(hist[:, 1], young),
            "season_q3_avg": gap(hist[:, 2], young),
            "vcp_detected": vcp_detected,
            "vcp_stage": vcp_stage,
            "vcp_contraction_depth": vcp_contraction_depth,
            "nifty_change_1d": nifty_change_1d,
            "sector_change_1d": sector_change_1d,
            "market_breadth": market_breadth,
            "upper_circuit": label,
        }
    )
    decimals = {col: 2 for col in frame.columns if frame[col].dtype == np.float64}
    decimals.update({"log_market_cap": 3, "management_sentiment": 3, "market_breadth": 3})
    frame = frame.round(decimals)
    order = np.lexsort((frame["symbol"].to_numpy(), frame["announcement_date"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    truth = pd.DataFrame(
        {
            "symbol": frame["symbol"],
            "announcement_date": frame["announcement_date"],
            "true_probability": np.round(p_observed[order], 6),
        }
    )
    return frame, truth
