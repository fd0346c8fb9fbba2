"""Drive the console in a real headless Chromium (Debian's, through its
WebDriver) the way a reviewer and a viewer would, and write a screenshot of
every page. Run by crates/console/tests/browser.rs against a console it
started on loopback; exits non-zero with the reason on the first failure.

  browser.py URL SCREENSHOT_DIR PASSWORD CHROMIUM CHROMEDRIVER
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, shots, password, chromium, chromedriver = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = chromium
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--window-size=1280,800",
             "--no-first-run", "--disable-extensions"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
driver.set_page_load_timeout(30)
driver.implicitly_wait(5)
checks = []


def check(condition, what):
    """`condition` is a value, or a function retried for up to 10 s (a click
    that navigates returns before the next page has loaded)."""
    checks.append(what)
    if callable(condition):
        deadline = time.monotonic() + 10
        while True:
            try:
                ok = condition()
            except Exception:  # the page changed under the lookup
                ok = False
            if ok or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        condition = ok
    if not condition:
        raise AssertionError(f"{what} (at {driver.current_url}):\n{body_text()[:2000]}")


def body_text():
    return driver.find_element(By.TAG_NAME, "body").text


def shot(name):
    # Full height at the current width, so the whole page is in the picture.
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(max(width, 360), min(max(height, 600), 4000))
    driver.save_screenshot(os.path.join(shots, f"{name}.png"))


def sign_in(user):
    driver.get(f"{url}/ui/catalogue")
    check(lambda: "/ui/login" in driver.current_url, "an anonymous visitor is sent to sign in")
    driver.find_element(By.NAME, "user").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    check(lambda: "/ui/catalogue" in driver.current_url and "Sign out" in body_text(),
          f"{user} lands on the catalogue after signing in")


def sign_out():
    driver.get(f"{url}/ui/catalogue")
    driver.find_element(By.CSS_SELECTOR, "header form button").click()
    check(lambda: "/ui/login" in driver.current_url, "signing out returns to the sign-in page")


def post_form(action, fields):
    """Post a form the page did not offer (what a forged or stale form does)."""
    driver.execute_script(
        """
        const [action, fields] = arguments;
        const form = document.createElement('form');
        form.method = 'post';
        form.action = action;
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
        """,
        action,
        fields,
    )


try:
    driver.get(f"{url}/ui/login")
    driver.set_window_size(1280, 800)
    shot("login")

    # A governance reviewer finds a model, opens its record, signs off.
    sign_in("gil")
    driver.set_window_size(1280, 800)
    # Typing filters in place (htmx swaps the results and records the URL),
    # without a page load: a marker set on this page survives.
    driver.execute_script("window.__same_page = true")
    search = driver.find_element(By.NAME, "q")
    search.send_keys("no-such-model")
    check(lambda: "0 of 1 versions" in body_text(), "typing a search updates the results in place")
    check(lambda: "q=no-such-model" in driver.current_url, "the search is in the address bar")
    check(driver.execute_script("return window.__same_page === true"),
          "the results were swapped without loading a page")
    search.clear()
    search.send_keys("minilm")
    search.submit()
    check(lambda: "1 of 1 versions" in body_text(), "the search finds the approved model")
    check("<script>alert('card')</script>" in body_text(),
          "the catalogue shows the hostile intended use as text")
    shot("catalogue")
    driver.find_element(By.LINK_TEXT, "minilm@1").click()
    check(lambda: "Why: the verdict's reasons" in body_text(), "the version's record opens")
    check("<script>alert('card')</script>" in body_text(),
          "the hostile card text is shown as text, not run")
    check(driver.execute_script("return window.__pwned === undefined"), "no injected script ran")
    driver.set_window_size(1280, 800)
    shot("version")

    driver.find_element(By.LINK_TEXT, "Reviews").click()
    check(lambda: "Waiting for your governance review" in body_text(), "the queue is the reviewer's")
    driver.set_window_size(1280, 800)
    shot("queue")
    driver.find_element(By.LINK_TEXT, "smollm2@1").click()
    driver.find_element(By.NAME, "note").send_keys("No card; accepted for internal drafts only.")
    driver.find_element(By.CSS_SELECTOR, "button[value=signed-off]").click()
    check(lambda: "You recorded: signed-off" in body_text(), "the sign-off is recorded on the version")

    # A form whose CSRF token was removed is refused.
    driver.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    driver.find_element(By.NAME, "note").send_keys("again")
    driver.find_element(By.CSS_SELECTOR, "button[value=signed-off]").click()
    check(lambda: "403" in body_text() and "CSRF token" in body_text(),
          "a form posted without its CSRF token is refused")

    driver.get(f"{url}/ui/audit")
    text = body_text()
    check("Chain verified" in text, "the audit page shows the chain verified")
    first_row = driver.find_element(By.CSS_SELECTOR, "tbody tr").text
    check("review.signed_off" in first_row and "gil" in first_row,
          "the newest audit event is gil's sign-off")
    driver.set_window_size(1280, 800)
    shot("audit")
    sign_out()

    # A viewer cannot approve, even with a hand-made form and a valid token.
    sign_in("vic")
    driver.get(f"{url}/ui/version?ref=smollm2%401")
    check(not driver.find_elements(By.CSS_SELECTOR, "input[name=action]"),
          "a viewer is offered no stage change")
    token = driver.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
    post_form(f"{url}/ui/stage", {"ref": "smollm2@1", "action": "approve", "csrf": token})
    check(lambda: "403" in body_text() and "only an admin may" in body_text(),
          "a viewer's approval is refused")
    sign_out()

    # The admin's pages, and the catalogue at phone width.
    sign_in("ada")
    for name in ("usage", "keys"):
        driver.set_window_size(1280, 800)
        driver.get(f"{url}/ui/{name}")
        shot(name)
    driver.get(f"{url}/ui/version?ref=smollm2%401")
    check("Decide" in body_text(), "the admin is offered the stage changes")
    driver.set_window_size(390, 844)
    driver.get(f"{url}/ui/catalogue")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 1, f"the catalogue fits a phone's width (overflow {overflow}px)")
    shot("catalogue-phone")

    # Nothing on any page was blocked by the Content-Security-Policy (no
    # inline script or style slipped in) and no script failed.
    # (The refused forms above answered 403 on purpose: a failed load of
    # those is expected, and only those.)
    problems = [entry["message"] for entry in driver.get_log("browser")
                if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
                and not ("Failed to load resource" in entry["message"] and "403" in entry["message"]
                         and ("/ui/review" in entry["message"] or "/ui/stage" in entry["message"]))]
    check(not problems, f"no script error or CSP violation: {problems}")
finally:
    driver.quit()

print(json.dumps({"checks": checks}))
