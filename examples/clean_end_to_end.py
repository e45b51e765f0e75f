"""Find and fix flipped labels end to end, as a person would: fit, clean in the browser, refit.

1. Flip 5 % of the training labels (TREC-6's training questions, or with ``--dataset
   ag_news`` AG News's articles less 1,000 held out for testing) and fit ``sk-ulmfit fit``
   on the noisy table.
2. ``sk-ulmfit clean MODEL noisy.csv --output cleaned.csv --no-browser``: the page ranks the
   texts by out-of-fold loss.
3. A person (here headless Chromium driven by selenium, standing in for someone who knows
   the right answers) reads the first ``--review`` texts of the ranking page by page and
   relabels each one whose label is wrong, then presses Save.
4. ``sk-ulmfit fit`` again on the cleaned table; both models are scored on the test texts.

It prints the seconds of every step, the flipped labels found and fixed, and the test
accuracy before and after. Needs ``chromium`` and ``chromedriver`` on the PATH (Debian:
``apt-get install -y chromium chromium-driver``).

    python examples/clean_end_to_end.py --data-home ../shared/data --work-dir runs/clean_e2e
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sklearn.model_selection import train_test_split

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_ag_news, fetch_trec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from find_label_errors import flip_labels  # noqa: E402

CLI = [sys.executable, "-m", "sk_ulmfit"]
PAGE_SIZE = 50


def load(dataset: str, data_home: str, seed: int):
    """Training and test texts and labels: TREC-6's parts, or AG News's one file split."""
    if dataset == "trec":
        return (*fetch_trec("train", data_home=data_home, return_X_y=True),
                *fetch_trec("test", data_home=data_home, return_X_y=True))
    X, y = fetch_ag_news("test", data_home=data_home, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(list(X), y, test_size=1000, stratify=y, random_state=seed)
    return X_train, y_train, X_test, y_test


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def shown(driver) -> list[int]:
    return [int(card.get_attribute("data-position")) for card in driver.find_elements(By.CSS_SELECTOR, ".card")]


def review(driver, url: str, n_texts: int, truth: np.ndarray, given: np.ndarray) -> tuple[int, list[float]]:
    """Page through the first ``n_texts`` of the ranking, relabelling each wrong label to
    ``truth``; the number relabelled and the seconds each page took the browser."""
    wait = WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,))  # a page re-renders
    driver.get(f"{url}#page_size={PAGE_SIZE}")
    wait.until(lambda _: shown(driver))
    relabelled, page_seconds, seen = 0, [], 0
    while seen < n_texts:
        started = time.perf_counter()
        positions = shown(driver)[: n_texts - seen]
        for position in positions:
            if given[position] != truth[position]:
                card = driver.find_element(By.CSS_SELECTOR, f'.card[data-position="{position}"]')
                Select(card.find_element(By.TAG_NAME, "select")).select_by_value(str(truth[position]))
                relabelled += 1
        wait.until(lambda _: relabelled == 0 or re.search(
            rf"\b{relabelled} relabelled", driver.find_element(By.ID, "summary").text))
        page_seconds.append(time.perf_counter() - started)
        seen += len(positions)
        if seen < n_texts:
            driver.find_element(By.ID, "next-bottom").click()  # under the last row read, as a person would
            wait.until(lambda _: shown(driver) and shown(driver)[0] != positions[0])
    driver.find_element(By.ID, "save").click()
    wait.until(lambda _: driver.find_element(By.ID, "message").text.startswith("Saved"))
    return relabelled, page_seconds


def accuracy(model: Path, X_test, y_test) -> float:
    return float(ULMFiTClassifier.load(model).score(X_test, y_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--dataset", choices=("trec", "ag_news"), default="trec")
    parser.add_argument("--work-dir", required=True, help="a folder for the tables and models it writes")
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--review", type=int, default=200, help="how many ranked texts the person reads")
    parser.add_argument("--n-train", type=int, help="use this many of the training texts (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)

    X, y, X_test, y_test = load(args.dataset, args.data_home, args.seed)
    if args.n_train:
        X, y = list(X)[: args.n_train], np.asarray(y)[: args.n_train]
    truth = np.asarray(y, dtype=object)
    noisy, flipped = flip_labels(truth, args.fraction, np.random.default_rng(args.seed))
    pd.DataFrame({"text": list(X), "label": noisy}).to_csv(work / "noisy.csv", index=False)
    print(f"{args.dataset}: {len(X)} training texts, {len(flipped)} labels flipped ({args.fraction:.0%}), "
          f"{len(X_test)} test texts", flush=True)

    seed = ["--set", f"random_state={args.seed}", "--force"]
    fit_noisy = timed([*CLI, "fit", str(work / "noisy.csv"), "--output", str(work / "noisy.skulm"), *seed])

    started = time.perf_counter()
    server = subprocess.Popen([*CLI, "clean", str(work / "noisy.skulm"), str(work / "noisy.csv"), "--output",
                               str(work / "cleaned.csv"), "--no-browser", "--force"],
                              stdout=subprocess.PIPE, text=True)
    url = None
    for line in server.stdout:
        print(line, end="", flush=True)
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found:
            url = found.group(0)
            break
    if url is None:
        raise SystemExit(f"sk-ulmfit clean stopped before serving (exit status {server.wait()})")
    scores = time.perf_counter() - started
    driver = browser()
    try:
        started = time.perf_counter()
        relabelled, page_seconds = review(driver, url, args.review, truth, noisy)
        reviewing = time.perf_counter() - started
    finally:
        driver.quit()
        server.terminate()
        server.wait()

    cleaned = pd.read_csv(work / "cleaned.csv", dtype=str, keep_default_na=False)
    fixed = int(np.sum(cleaned["label"].to_numpy(dtype=object) == truth) - np.sum(noisy == truth))
    fit_cleaned = timed([*CLI, "fit", str(work / "cleaned.csv"), "--output", str(work / "cleaned.skulm"), *seed])
    before, after = accuracy(work / "noisy.skulm", X_test, y_test), accuracy(work / "cleaned.skulm", X_test, y_test)

    print("\n| step | seconds | what it gave |\n| --- | --- | --- |")
    print(f"| `sk-ulmfit fit` on the noisy table | {fit_noisy:.0f} | test accuracy {before:.1%} |")
    print(f"| `sk-ulmfit clean`: out-of-fold scores until the page is served | {scores:.0f} | "
          f"{len(X)} texts ranked |")
    print(f"| the browser: {args.review} texts read, {relabelled} relabelled, saved | {reviewing:.1f} "
          f"(a page of {PAGE_SIZE}: {np.mean(page_seconds):.2f} s) | {fixed} of {len(flipped)} flipped labels fixed |")
    print(f"| `sk-ulmfit fit` on the cleaned table | {fit_cleaned:.0f} | test accuracy {after:.1%} "
          f"({100 * (after - before):+.1f} points) |")


if __name__ == "__main__":
    main()
