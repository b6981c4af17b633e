"""Set 11's questions: written by hand in stop 55 after that stop's changes were written
(from set 10's failures) and before any was measured here: filters by a value of a joined
table, a share of one channel, a month (YYYY-MM) of one channel's highest total, distinct
customers in a year, a deviation of one visit type, a median of one department, a late
share of one transport mode, a duration in other units, a change in a count between two
named months and in one channel's total between two years. Labels are computed here with
pandas. Run from results/unseen-tables-11 after making the corpus."""

import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from handwritten import load, num, top, write, yes  # noqa: E402

# sales, a folder of CSVs
f = "sales-850000"
d = load(f)
o, c = d["orders"], d["customers"]
oc = o.merge(c, on="customer_id")
num(
    "How many orders were placed by customers from Germany?",
    f,
    int((oc.country == "Germany").sum()),
    0,
)
num(
    "What is the average discount of delivered orders? Round to two decimals.",
    f,
    o[o.status == "delivered"].discount.mean(),
)
# sales, XLSX
f = "sales-850009.xlsx"
o = load(f)["orders"]
num(
    "What share of orders, in percent, came through the Phone channel? Round to two decimals.",
    f,
    100 * (o.channel == "Phone").mean(),
)
web = o[o.channel == "Web"]
top(
    "In which month was the total amount of Web orders highest? Give it as YYYY-MM.",
    f,
    web.groupby(web.order_date.dt.strftime("%Y-%m")).amount.sum(),
)
# sales, SQLite
f = "sales-850018.db"
o = load(f)["orders"]
year = pd.to_datetime(o.order_date).dt.year
num(
    "How many distinct customers placed an order in 2021?",
    f,
    int(o[year == 2021].customer_id.nunique()),
    0,
)
num(
    "What is the average amount of orders with a discount above 10? Round to two decimals.",
    f,
    o[o.discount > 10].amount.mean(),
)
store = o[o.channel == "Store"].groupby(year).amount.sum()
num(
    "By how much did the total amount of Store orders change from 2020 to 2021? Round to two "
    "decimals.",
    f,
    store[2021] - store[2020],
)
# clinic, XLSX
f = "clinic-850004.xlsx"
v = load(f)["visits"]
num(
    "What is the average wait in minutes for emergency visits? Round to two decimals.",
    f,
    v[v.visit_type == "emergency"].wait_minutes.mean(),
)
num("How many visits had no insurer?", f, int(v.insurer.isna().sum()), 0)
# clinic, SQLite
f = "clinic-850013.db"
d = load(f)
v, dr = d["visits"], d["doctors"]
top(
    "Which specialty has the lowest average fee?",
    f,
    v.merge(dr, on="doctor_id").groupby("specialty").fee.mean(),
    low=True,
)
num(
    "What is the standard deviation of the fee of first visits? Round to two decimals.",
    f,
    v[v.visit_type == "first"].fee.std(),
)
# clinic, a folder of CSVs
f = "clinic-850022"
d = load(f)
vd = d["visits"].merge(d["doctors"], on="doctor_id")
in2024 = pd.to_datetime(vd.visit_date).dt.year == 2024
num(
    "How many visits did Pediatrics doctors have in 2024?",
    f,
    int(((vd.specialty == "Pediatrics") & in2024).sum()),
    0,
)
# education, SQLite
f = "education-850008.db"
e = load(f)["enrollments"]
num(
    "What is the average grade of enrollments that passed? Round to two decimals.",
    f,
    e[yes(e.passed)].grade.mean(),
)
num(
    "How many enrollments have an attendance below 70 percent?",
    f,
    int((e.attendance_pct < 70).sum()),
    0,
)
# education, a folder of CSVs
f = "education-850017"
d = load(f)
ec = d["enrollments"].merge(d["courses"], on="course_id")
top("Which course title has the most enrollments?", f, ec.groupby("title").size())
# energy, XLSX
f = "energy-850007.xlsx"
d = load(f)
m = d["meter_readings"].merge(d["meters"], on="meter_id")
num(
    "What is the median kWh of readings from meters on the night tariff? Round to three decimals.",
    f,
    m[m.tariff == "night"].kwh.median(),
    3,
)
# energy, SQLite
f = "energy-850016.db"
d = load(f)
m = d["meter_readings"].merge(d["meters"], on="meter_id")
top("Which district has the highest total kWh?", f, m.groupby("district").kwh.sum())
# finance, a folder of CSVs
f = "finance-850003"
d = load(f)
ta = d["transactions"].merge(d["accounts"], on="account_id")
num(
    "What is the total credit amount of Savings accounts? Round to two decimals.",
    f,
    ta[(ta.direction == "credit") & (ta.account_type == "Savings")].amount.sum(),
)
# finance, XLSX
f = "finance-850012.xlsx"
t = load(f)["transactions"]
num(
    "What percentage of transactions are debits? Round to two decimals.",
    f,
    100 * (t.direction == "debit").mean(),
)
# finance, SQLite
f = "finance-850021.db"
t = load(f)["transactions"]
month = pd.to_datetime(t.booked_on).dt.strftime("%Y-%m")
busiest = month.value_counts().index[1]
num(f"How many transactions were booked in {busiest}?", f, int((month == busiest).sum()), 0)
# HR, XLSX
f = "hr-850001.xlsx"
h = load(f)["employees"]
num(
    "What is the average performance score of remote employees? Round to two decimals.",
    f,
    h[yes(h.remote)].performance_score.mean(),
)
# HR, SQLite
f = "hr-850010.db"
h = load(f)["employees"]
top(
    "Which department has the most employees at the Lead level?",
    f,
    h[h.level == "Lead"].groupby("department").size(),
)
# HR, one CSV
f = "hr-850019.csv"
h = load(f)["hr-850019"]
num(
    "What is the median salary in the Engineering department? Round to two decimals.",
    f,
    h[h.department == "Engineering"].salary.median(),
)
# logistics, a folder of CSVs
f = "logistics-850006"
d = load(f)
s = d["shipments"]
sc = s.merge(d["carriers"], on="carrier_id")
num(
    "What is the average transit time of shipments from Rotterdam? Round to two decimals.",
    f,
    s[s.origin == "Rotterdam"].transit_days.mean(),
)
rail = sc[sc["mode"] == "rail"]
num(
    "What percentage of rail shipments were late (not on time)? Round to two decimals.",
    f,
    100 * (~yes(rail.on_time)).mean(),
)
# logistics, XLSX
f = "logistics-850015.xlsx"
s = load(f)["shipments"]
num(
    "What is the total cost of shipments to Iberia in 2025? Round to two decimals.",
    f,
    s[(s.destination_region == "Iberia") & (s.shipped_on.dt.year == 2025)].cost.sum(),
)
# sensors, SQLite
f = "sensors-850002.db"
r = load(f)["readings"]
num(
    "What is the average vibration of readings with a critical alarm? Round to three decimals.",
    f,
    r[r.alarm == "critical"].vibration.mean(),
    3,
)
# sensors, a folder of CSVs
f = "sensors-850011"
d = load(f)
rd = d["readings"].merge(d["devices"], on="device_id")
top("Which site has the highest average humidity?", f, rd.groupby("site").humidity_pct.mean())
# sensors, XLSX
f = "sensors-850020.xlsx"
r = load(f)["readings"]
num("How many readings have a temperature above 30?", f, int((r.temperature_c > 30).sum()), 0)
# web, SQLite
f = "web-850005.db"
w = load(f)["sessions"]
num(
    "What is the average duration, in minutes, of desktop sessions? Round to two decimals.",
    f,
    w[w.device == "desktop"].duration_s.mean() / 60,
)
# web, one CSV
f = "web-850014.csv"
w = load(f)["web-850014"]
num(
    "How many sessions from social viewed more than 5 pages?",
    f,
    int(((w.source == "social") & (w.pages > 5)).sum()),
    0,
)
month = pd.to_datetime(w.started_at).dt.strftime("%Y-%m")
counts = w.groupby(month).size()
m1, m2 = counts.index[-3], counts.index[-2]
num(
    f"By what percentage did the number of sessions change from {m1} to {m2}? Round to one "
    "decimal.",
    f,
    100 * (counts[m2] / counts[m1] - 1),
    1,
)
# web, XLSX
f = "web-850023.xlsx"
w = load(f)["sessions"]
num(
    "What is the total revenue of converted sessions from ads? Round to two decimals.",
    f,
    w[yes(w.converted) & (w.source == "ads")].revenue.sum(),
)

write()
