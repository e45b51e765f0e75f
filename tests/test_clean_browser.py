"""The cleaner page in a real browser (headless Chromium through selenium): decide, reload, save.

Needs ``chromium`` and ``chromedriver`` on the PATH (Debian: ``apt-get install -y chromium
chromium-driver``); skipped when either is missing.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from sk_ulmfit._cli.clean_server import CleanSession, decisions_file
from sk_ulmfit.cleaning import DatasetCleaner

from .test_clean_server import fake_proba, fake_table, other_label, start

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WAIT_S = 15


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs chromium and chromedriver on the PATH: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))  # no driver download
    yield driver
    driver.quit()


def serve(tmp_path, scores="out-of-fold", table=None):
    table = fake_table() if table is None else table
    data = tmp_path / "news.csv"
    table.to_csv(data, index=False)
    output = tmp_path / "cleaned.csv"
    cleaner = DatasetCleaner(table["text"], table["label"].to_numpy(), fake_proba(len(table)),
                             decisions_path=decisions_file(output))
    return start(CleanSession(cleaner, table, label_column="label", output=output, data_name=data.name,
                              scores=scores)) + (cleaner, data)


def wait_for(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(lambda _: condition())


def cards(driver):
    return driver.find_elements(By.CSS_SELECTOR, ".card")


def card_at(driver, position):
    return driver.find_element(By.CSS_SELECTOR, f'.card[data-position="{position}"]')


def test_decide_reload_and_save(browser, tmp_path):
    table = fake_table()
    table.loc[0, "text"] = "a long headline " * 40  # folded on the page
    url, server, cleaner, data = serve(tmp_path, table=table)
    try:
        browser.get(url + "/#page_size=50")
        wait_for(browser, lambda: len(cards(browser)) == len(table))
        shown = [int(card.get_attribute("data-position")) for card in cards(browser)]
        assert shown == list(cleaner.ranked("top_losses")["position"])
        first, second, third = shown[:3]
        relabels = {first: other_label(table["label"][first]), second: other_label(table["label"][second])}
        for position, label in relabels.items():
            Select(card_at(browser, position).find_element(By.TAG_NAME, "select")).select_by_value(label)
        card_at(browser, third).find_element(By.CSS_SELECTOR, "button.delete").click()
        wait_for(browser, lambda: "1 deleted" in browser.find_element(By.ID, "summary").text
                 and "2 relabelled" in browser.find_element(By.ID, "summary").text)

        browser.refresh()
        wait_for(browser, lambda: len(cards(browser)) == len(table))
        for position, label in relabels.items():  # after a reload the page shows the server's decisions
            card = card_at(browser, position)
            assert "relabel" in card.get_attribute("class").split()
            assert Select(card.find_element(By.TAG_NAME, "select")).first_selected_option.text == label
        assert "delete" in card_at(browser, third).get_attribute("class").split()

        text = card_at(browser, 0).find_element(By.CSS_SELECTOR, ".text")  # the long text: folded
        assert "folded" in text.get_attribute("class")
        folded_height = text.size["height"]
        card_at(browser, 0).find_element(By.CSS_SELECTOR, "button.fold").click()
        assert "folded" not in text.get_attribute("class") and text.size["height"] > 2 * folded_height

        browser.find_element(By.ID, "save").click()
        wait_for(browser, lambda: browser.find_element(By.ID, "message").text.startswith("Saved"))
    finally:
        server.shutdown()
        server.server_close()

    cleaned = pd.read_csv(tmp_path / "cleaned.csv", dtype=str, keep_default_na=False)
    expected = pd.read_csv(data, dtype=str, keep_default_na=False).drop(index=third)
    for position, label in relabels.items():
        expected.loc[position, "label"] = label
    pd.testing.assert_frame_equal(cleaned, expected.reset_index(drop=True))
    log = pd.read_csv(tmp_path / "cleaned.csv.changes.csv", keep_default_na=False)
    assert list(log["position"]) == sorted([first, second, third])
    assert dict(zip(log["position"], log["deleted"])) == {first: False, second: False, third: True}
    assert {p: label for p, label in zip(log["position"], log["new_label"]) if label} == relabels


def test_training_scores_carry_a_visible_warning(browser, tmp_path):
    url, server, _, _ = serve(tmp_path, scores="training")
    try:
        browser.get(url + "/")
        wait_for(browser, lambda: len(cards(browser)) > 0)
        note = browser.find_element(By.ID, "scores-note")
        assert note.is_displayed() and "warning" in note.get_attribute("class")
        assert "graded by the model that was trained on them" in note.text
    finally:
        server.shutdown()
        server.server_close()


def test_pager_and_filters(browser, tmp_path):
    url, server, cleaner, _ = serve(tmp_path)
    try:
        browser.get(url + "/#page_size=20")
        wait_for(browser, lambda: len(cards(browser)) == 20)
        browser.find_element(By.ID, "next").click()
        second_page = list(cleaner.page("top_losses", page=1, page_size=20).rows["position"])
        wait_for(browser, lambda: [int(c.get_attribute("data-position")) for c in cards(browser)] == second_page)
        # the pager under the rows turns the page and goes back to its first row
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        browser.find_element(By.ID, "previous-bottom").click()
        first_page = list(cleaner.page("top_losses", page=0, page_size=20).rows["position"])
        wait_for(browser, lambda: [int(c.get_attribute("data-position")) for c in cards(browser)] == first_page)
        wait_for(browser, lambda: browser.execute_script("return window.scrollY") == 0)
        Select(browser.find_element(By.ID, "given")).select_by_value("tech")
        tech = list(cleaner.ranked("top_losses", given_label="tech")["position"][:20])
        wait_for(browser, lambda: [int(c.get_attribute("data-position")) for c in cards(browser)] == tech)
        assert np.all(cleaner.labels[tech] == "tech")
        assert "page 1 of" in browser.find_element(By.ID, "page-info").text
    finally:
        server.shutdown()
        server.server_close()
