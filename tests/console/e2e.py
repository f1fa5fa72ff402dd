"""The console, driven in headless Chromium against a real `patrol serve`.

Run by cli/tests/cli/console.rs, which starts the server, fills it with tokens and passes:

    e2e.py BASE_URL SETTINGS_JSON

SETTINGS_JSON names the admin token, an auditor credential, the folder for screenshots, axe-core's
script, and what the dry run must find. Each step says what it checks; the first failure stops
the run with a message and a screenshot of the page it failed on. Accessibility: axe-core (run in
the page, offline) checks every page against WCAG 2.1 A and AA (labels, contrast, names, ARIA);
keyboard use is checked by tabbing and pressing keys, as a person would.
"""

import json
import re
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = sys.argv[1].rstrip("/")
SETTINGS = json.loads(Path(sys.argv[2]).read_text())
SHOTS = Path(SETTINGS["screenshots"])
SHOTS.mkdir(parents=True, exist_ok=True)
AXE = Path(SETTINGS["axe"]).read_text()

options = webdriver.ChromeOptions()
options.binary_location = SETTINGS.get("chromium", "/usr/bin/chromium")
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--lang=en-US", "--force-device-scale-factor=1"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(SETTINGS.get("chromedriver", "/usr/bin/chromedriver")), options=options)
driver.set_page_load_timeout(30)
wait = WebDriverWait(driver, 15)
step_name = "start"


def step(name):
    global step_name
    step_name = name
    print(f"- {name}", flush=True)


def shot(name, full=False):
    """A screenshot a person can look at; `full` grows the window to the page's height first."""
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(max(height + 40, 1000), 6000))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(1400, 1000)
    print(f"  screenshot {path}", flush=True)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def find(css):
    return wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_of(css):
    return find(css).text


def current_text(css):
    """The element's text now, or "" while it is not there (or being replaced)."""
    try:
        return driver.find_element(By.CSS_SELECTOR, css).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def wait_text(css, pattern):
    """Waits until the element's text matches `pattern`; returns the text."""
    try:
        wait.until(lambda d: re.search(pattern, current_text(css)))
    except TimeoutException:
        raise AssertionError(f"{css} never matched {pattern!r}: {current_text(css)!r}")
    return current_text(css)


def loaded():
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "main .loading"))


def no_script_errors(page):
    """Nothing the browser logged as an error: a script that does not parse, a refused load."""
    # The API's refusals the steps provoke on purpose (a wrong token, an invalid setting) are
    # logged as failed loads; anything else is an error of the page.
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
              and not re.search(r"/v1/.* the server responded with a status of 4\d\d", entry["message"])]
    check(not errors, f"{page}: the browser logged errors: {errors}")


def accessible(page):
    """No WCAG 2.1 A or AA violation that axe-core finds on the page as it is."""
    driver.execute_script(AXE)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.html)}))))"
        ".catch(e => done([{id: 'axe-failed', help: String(e), nodes: []}]));")
    check(not result, f"{page}: accessibility violations: {json.dumps(result, indent=1)}")
    print(f"  axe-core: no WCAG 2.1 A/AA violation on {page}", flush=True)


def go(page):
    driver.execute_script(f"window.location.hash = '#/{page}'")
    loaded()


def focused():
    return driver.switch_to.active_element


try:
    # ------------------------------------------------------------------------------------------
    step("the console is served, and asks who is there")
    driver.get(f"{BASE}/console")
    time.sleep(0.5)
    no_script_errors("sign in")
    find("form.login")
    check(driver.current_url.endswith("/console/"), f"/console goes to /console/: {driver.current_url}")
    accessible("sign in")
    shot("01-sign-in")

    step("keyboard: the skip link, then the token, the name and the button, in that order")
    order = []
    for _ in range(4):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        element = focused()
        if element.get_attribute("class") == "skip":
            order.append("skip")
        elif element.get_attribute("autocomplete") == "name":
            order.append("name")
        else:
            order.append(element.get_attribute("type") or element.tag_name)
    check(order == ["skip", "password", "name", "submit"], f"the Tab order: {order}")

    step("a wrong token is refused, saying so")
    token_input = find("form.login input[type=password]")
    token_input.send_keys("not-the-token")
    find("form.login button[type=submit]").click()
    wait_text("form.login .error", "not valid")

    step("the admin token without a name is asked for the name")
    token_input.clear()
    token_input.send_keys(SETTINGS["admin_token"])
    find("form.login button[type=submit]").click()
    wait_text("form.login input[autocomplete=name] ~ .field-error", "Enter your name")

    step("the admin token with a name signs in, by keyboard (Enter)")
    token_input = find("form.login input[type=password]")
    token_input.clear()
    token_input.send_keys(SETTINGS["admin_token"])
    name_input = find("form.login input[autocomplete=name]")
    name_input.send_keys("Alice Admin")
    name_input.send_keys(Keys.ENTER)
    wait_text("main h1", "Policies of contoso")
    check("operator" in text_of("#who"), "the header says who is signed in")
    loaded()
    accessible("policies")
    shot("02-policies", full=True)

    # The policies as the seed presents them.
    cards = {card.find_element(By.CSS_SELECTOR, "code.key").text: card
             for card in driver.find_elements(By.CSS_SELECTOR, "section.policy") if card.find_elements(By.CSS_SELECTOR, "code.key")}
    for key in ["restrict_global_pat_creation", "restrict_full_scoped_pat_creation", "max_pat_lifespan",
                "revoke_leaked_pats", "restrict_pat_creation"]:
        check(key in cards, f"the seed policy {key} is on the page")
    lifespan = cards["max_pat_lifespan"]
    max_days = lifespan.find_element(By.CSS_SELECTOR, "input[data-field='policies.max_pat_lifespan.max_days']")
    check(max_days.get_attribute("value") == "90", f"max_days shows the tenant's 90: {max_days.get_attribute('value')}")
    check(driver.find_elements(By.XPATH, "//h3[contains(., 'contractors-no-manage')]"), "the CEL rule is listed")
    check(driver.find_elements(By.XPATH, "//h3[contains(., 'write-scopes-short-lived')]"), "the custom component is listed")

    step("toggling a policy shows the dry run first; cancelling saves nothing")
    toggle = cards["restrict_global_pat_creation"].find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    toggle.click()
    find("form.policies button[type=submit]").click()
    dialog_text = wait_text("#confirm .impact", r"would refuse \d+ of \d+ active tokens")
    check(f"of {SETTINGS['active_tokens']} active tokens" in dialog_text, f"the dry run judges every active token: {dialog_text}")
    shot("03-dry-run-toggle")
    find("#confirm-no").click()
    wait_text("#status", "Nothing was saved")

    step("an invalid setting is shown next to its field, with the engine's message")
    driver.refresh()
    wait_text("main h1", "Policies of contoso")
    max_days = find("input[data-field='policies.max_pat_lifespan.max_days']")
    max_days.clear()
    max_days.send_keys("400")
    find("form.policies button[type=submit]").click()
    error = wait_text("input[data-field='policies.max_pat_lifespan.max_days'] ~ .field-error", "365")
    check("400" in error, f"the message names the value: {error}")
    check(max_days.get_attribute("aria-invalid") == "true", "the field is marked invalid")
    shot("04-invalid-setting")

    step("a shorter lifespan: the dry run counts the tokens it would refuse; saving is audited")
    max_days.clear()
    max_days.send_keys("30")
    find("form.policies button[type=submit]").click()
    dialog_text = wait_text("#confirm .impact", r"would refuse \d+ of \d+ active tokens")
    expected = f"would refuse {SETTINGS['refused_at_30_days']} of {SETTINGS['active_tokens']} active tokens"
    check(expected in dialog_text, f"{expected!r} in {dialog_text!r}")
    shot("05-dry-run-lifespan")
    check(focused().get_attribute("id") == "confirm-no", "the dialog takes the focus, on Cancel")
    find("#confirm-yes").click()
    wait_text("#status", "Saved")
    max_days = find("input[data-field='policies.max_pat_lifespan.max_days']")
    check(max_days.get_attribute("value") == "30", "the page shows what is saved now")

    step("the audit log has the change, with the administrator as actor")
    driver.find_element(By.CSS_SELECTOR, "#status a").click()
    loaded()
    wait_text("table.audit tbody", "OrganizationPolicy.PolicyValueUpdated")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    check(any("alice admin" in row.text and "max_pat_lifespan" in row.text for row in rows),
          f"an entry by alice admin about max_pat_lifespan: {[row.text for row in rows]}")
    check(all("PolicyValueUpdated" in row.text for row in rows), "the event filter holds")
    accessible("audit")
    shot("06-audit", full=True)

    step("tokens: filter by owner, revoke with confirmation, see the history")
    go("tokens")
    find("table.tokens")
    accessible("tokens")
    shot("07-tokens", full=True)
    owner = find("form.filters input[name=owner]")
    owner.send_keys(SETTINGS["revoke_owner"])
    owner.send_keys(Keys.ENTER)
    wait_text("table.tokens caption", r"^1 of 1 tokens")
    revoke = find("table.tokens button.danger")
    revoke.click()
    wait_text("#confirm-title", "Revoke")
    shot("08-revoke-confirm")
    find("#confirm-yes").click()
    wait_text("#status", "Revoked")
    wait_text("main", "No token matches")
    Select(find("form.filters select[name=status]")).select_by_value("revoked")
    find("form.filters button[type=submit]").click()
    wait_text("table.tokens tbody", "revoked")
    find("table.tokens button.link").click()
    history = wait_text("#history", "Token.PatRevokeEvent")
    check("Token.PatCreateEvent" in history, f"the history starts with the creation: {history}")
    check("alice admin" in history, "the revocation names the administrator")
    shot("09-token-history", full=True)

    step("scope, organization and expiry filters narrow the list")
    go("tokens?status=active&scope=vso.work&expiring=30")
    caption = wait_text("table.tokens caption", r"of \d+ tokens")
    check(caption.startswith(f"{SETTINGS['work_scope_within_30']} of"), f"scope + expiring: {caption}")

    step("reports: every report, charts with dates and legends, this week marked, CSV export")
    go("reports")
    find("#patrol-report")
    for section in ["policies", "refusals", "noncompliant", "scope", "expiring", "automation", "inventory"]:
        check(driver.find_elements(By.CSS_SELECTOR, f"#patrol-report #{section}"), f"the {section} section is there")
    refusals = text_of("#refusals")
    check(re.search(r"\d{4}-\d{2}-\d{2}", driver.find_element(By.CSS_SELECTOR, "#refusals svg").get_attribute("innerHTML")),
          "the refusals chart is labelled with dates")
    check("max_pat_lifespan" in refusals, f"the refusal by max_pat_lifespan is shown: {refusals}")
    expiry = driver.find_element(By.CSS_SELECTOR, "#expiring svg").get_attribute("innerHTML")
    check("week of 20" in expiry, "the expiry chart names weeks with their year")
    check('fill="#cf222e"' in expiry, "the first week stands out")
    check("expires within 7 days" in text_of("#expiring .legend"), "and the legend says why")
    csv = driver.find_element(By.CSS_SELECTOR, "#noncompliant a.csv").get_attribute("href")
    check(csv.startswith("data:text/csv"), "CSV export is in the page")
    check(driver.find_element(By.CSS_SELECTOR, "#expiring a.csv").get_attribute("download").endswith(".csv"), "as a .csv file")
    accessible("reports")
    shot("10-reports", full=True)

    step("audit: filter by event")
    go("audit")
    Select(find("form.filters select[name=event]")).select_by_value("Token.PatRevokeEvent")
    find("form.filters button[type=submit]").click()
    wait_text("table.audit tbody", "Token.PatRevokeEvent")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    check(rows and all("Token.PatRevokeEvent" in row.text for row in rows), "only revocations")
    shot("11-audit-filtered")

    step("an auditor sees everything and is offered no change")
    find("#sign-out").click()
    find("form.login")
    find("form.login input[type=password]").send_keys(SETTINGS["auditor_credential"])
    find("form.login button[type=submit]").click()
    wait_text("main h1", "Policies of contoso")
    check("auditor" in text_of("#who"), "the header names the role")
    check(not driver.find_elements(By.CSS_SELECTOR, "form.policies button[type=submit]"), "no save button")
    inputs = driver.find_elements(By.CSS_SELECTOR, "form.policies input, form.policies select, form.policies textarea")
    check(inputs and all(not i.is_enabled() for i in inputs), "every field is read-only")
    shot("12-auditor-policies", full=True)
    go("tokens")
    find("table.tokens")
    check(not driver.find_elements(By.CSS_SELECTOR, "table.tokens button.danger"), "no revoke button")
    no_script_errors("the auditor's pages")

    step("a provisioner credential is turned away: SCIM only")
    find("#sign-out").click()
    find("form.login input[type=password]").send_keys(SETTINGS["provisioner_credential"])
    find("form.login button[type=submit]").click()
    wait_text("form.login .error", "SCIM")
    print("console: every step passed", flush=True)
except Exception as failure:  # noqa: BLE001 - any failure ends the run with its page
    try:
        shot(f"failed-{re.sub('[^a-z0-9]+', '-', step_name.lower())[:40]}", full=True)
    except Exception:  # noqa: BLE001
        pass
    print(f"FAILED at step “{step_name}”: {str(failure).split('Stacktrace:')[0].strip()}", flush=True)
    sys.exit(1)
finally:
    driver.quit()
