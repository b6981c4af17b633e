"""Set 10's questions: written by hand at the start of stop 55, before its changes were
measured, of kinds sets 8 and 9 do not ask (a filter on a joined table's category, a rate
among a year-of-study stored as text, a quarter asked as YYYY-Qn, a ratio of two group
averages, a threshold in other units than the column's, a per-group count compared with a
threshold, a change in a count between two named periods, the group that carries most of a
count's drop), their labels computed here with pandas. Run from results/unseen-tables-10
after making the corpus."""

import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from handwritten import load, num, top, write, yes  # noqa: E402

# sales, a folder of CSVs
f = "sales-770000"
d = load(f)
o, c = d["orders"], d["customers"]
per = o.groupby("customer_id").size()
num(
    "On average, how many orders does a customer who ordered at least once place? Round to two "
    "decimals.",
    f,
    per.mean(),
)
ent_orders = o.merge(c, on="customer_id")
num(
    "What is the average amount of orders placed by Enterprise customers? Round to two decimals.",
    f,
    ent_orders[ent_orders.segment == "Enterprise"].amount.mean(),
)
# sales, XLSX
f = "sales-770009.xlsx"
o = load(f)["orders"]
ret = o[o.status == "returned"].groupby(o.order_date.dt.year).size()
num(
    "By how many did the number of returned orders change from 2020 to 2021?",
    f,
    int(ret[2021] - ret[2020]),
    0,
)
top(
    "Which channel has the highest share of cancelled orders?",
    f,
    (o.status == "cancelled").groupby(o.channel).mean(),
)
# sales, SQLite
f = "sales-770018.db"
o = load(f)["orders"]
year = pd.to_datetime(o.order_date).dt.year
n = pd.crosstab(o.status, year)
top(
    "Which order status had the largest increase in the number of orders from 2019 to 2020?",
    f,
    n[2020] - n[2019],
)
num(
    "What is the average of discount divided by amount, in percent, over orders that have a "
    "discount? Round to two decimals.",
    f,
    100 * (o.discount / o.amount)[o.discount.notna()].mean(),
)
# clinic, XLSX
f = "clinic-770004.xlsx"
d = load(f)
v, dr = d["visits"], d["doctors"]
top(
    "Which insurer has the most visits by patients older than 65?",
    f,
    v[v.patient_age > 65].groupby("insurer").size(),
)
top(
    "Which doctor, by name, has the highest average fee?",
    f,
    v.merge(dr, on="doctor_id").groupby("name").fee.mean(),
)
# clinic, SQLite
f = "clinic-770013.db"
v = load(f)["visits"]
first = v[v.visit_type == "first"]
num(
    "What is the correlation between patient age and wait minutes for first visits? Round to "
    "three decimals.",
    f,
    first.patient_age.corr(first.wait_minutes),
    3,
)
q = pd.to_datetime(v.visit_date).dt.to_period("Q").astype(str)
drop = v[q == "2022Q4"].groupby("insurer").size() - v[q == "2022Q3"].groupby("insurer").size()
top(
    "The number of visits fell from 2022-Q3 to 2022-Q4. Which insurer accounts for the largest "
    "part of that drop?",
    f,
    drop,
    low=True,
)
# clinic, a folder of CSVs
f = "clinic-770022"
d = load(f)
v, dr = d["visits"], d["doctors"]
y23 = v[pd.to_datetime(v.visit_date).dt.year == 2023].merge(dr, on="doctor_id")
top("Which specialty had the most visits in 2023?", f, y23.groupby("specialty").size())
# education, SQLite (year_of_study is stored as text)
f = "education-770008.db"
e = load(f)["enrollments"]
num(
    "What is the pass rate of year 3 students, in percent? Round to two decimals.",
    f,
    100 * yes(e[e.year_of_study.astype(int) == 3].passed).mean(),
)
# education, a folder of CSVs
f = "education-770017"
d = load(f)
e, co = d["enrollments"], d["courses"]
top(
    "Which faculty has the highest average grade?",
    f,
    e.merge(co, on="course_id").groupby("faculty").grade.mean(),
)
att = e.groupby("course_id").attendance_pct.mean()
num("How many courses have an average attendance below 85 percent?", f, int((att < 85).sum()), 0)
# energy, XLSX
f = "energy-770007.xlsx"
d = load(f)
m = d["meter_readings"].merge(d["meters"], on="meter_id")
west21 = m[(m.district == "West") & (m.read_on.dt.year == 2021)]
num(
    "What is the total kWh of meters in the West district in 2021? Round to two decimals.",
    f,
    west21.kwh.sum(),
)
# energy, SQLite
f = "energy-770016.db"
r = load(f)["meter_readings"]
num(
    "What is the average kWh of readings taken when the outdoor temperature was below zero? "
    "Round to three decimals.",
    f,
    r[r.outdoor_temp_c < 0].kwh.mean(),
    3,
)
# finance, a folder of CSVs
f = "finance-770003"
t = load(f)["transactions"]
top(
    "Which category has the largest average debit amount?",
    f,
    t[t.direction == "debit"].groupby("category").amount.mean(),
)
# finance, XLSX
f = "finance-770012.xlsx"
t = load(f)["transactions"]
debit = t[t.direction == "debit"]


def quarter(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("Q").astype(str).str.replace("Q", "-Q")


top(
    "In which quarter was the total debit amount highest? Give it as YYYY-Qn.",
    f,
    debit.groupby(quarter(debit.booked_on)).amount.sum(),
)
# finance, SQLite
f = "finance-770021.db"
t = load(f)["transactions"]
num(
    "What is the median number of transactions per account?",
    f,
    float(t.groupby("account_id").size().median()),
    1,
)
# HR, XLSX
f = "hr-770001.xlsx"
h = load(f)["employees"]
num(
    "What is the average salary of employees hired in 2023? Round to two decimals.",
    f,
    h[h.hire_date.dt.year == 2023].salary.mean(),
)
num(
    "What percentage of Senior employees work remotely? Round to two decimals.",
    f,
    100 * yes(h[h.level == "Senior"].remote).mean(),
)
# HR, SQLite
f = "hr-770010.db"
h = load(f)["employees"]
lvl = h.groupby("level").salary.mean()
num(
    "What is the ratio of the average Lead salary to the average Junior salary? Round to three "
    "decimals.",
    f,
    lvl["Lead"] / lvl["Junior"],
    3,
)
# HR, one CSV
f = "hr-770019.csv"
h = load(f)["hr-770019"]
top(
    "Which level has the highest average number of sick days?",
    f,
    h.groupby("level").sick_days.mean(),
)
num(
    "What is the total number of sick days taken in the Sales department?",
    f,
    int(h[h.department == "Sales"].sick_days.sum()),
    0,
)
# logistics, a folder of CSVs
f = "logistics-770006"
d = load(f)
s, ca = d["shipments"], d["carriers"]
sc = s.merge(ca, on="carrier_id")
num(
    "What percentage of air shipments arrived on time? Round to two decimals.",
    f,
    100 * yes(sc[sc["mode"] == "air"].on_time).mean(),
)
top(
    "Which carrier, by name, has the lowest average cost per shipment?",
    f,
    sc.groupby("name").cost.mean(),
    low=True,
)
# logistics, XLSX
f = "logistics-770015.xlsx"
s = load(f)["shipments"]
num(
    "How many shipments heavier than 50 kg went to the Nordics?",
    f,
    int(((s.weight_kg > 50) & (s.destination_region == "Nordics")).sum()),
    0,
)
g = s.groupby("origin")
top(
    "Which origin has the highest cost per kg (its total cost divided by its total weight)?",
    f,
    g.cost.sum() / g.weight_kg.sum(),
)
# sensors, SQLite
f = "sensors-770002.db"
d = load(f)
rd = d["readings"].merge(d["devices"], on="device_id")
top(
    "Which device model has the highest share of critical alarms?",
    f,
    (rd.alarm == "critical").groupby(rd.model).mean(),
)
# sensors, a folder of CSVs
f = "sensors-770011"
r = load(f)["readings"]
top(
    "On which date was the average temperature highest? Give it as YYYY-MM-DD.",
    f,
    r.groupby("recorded_at").temperature_c.mean(),
)
# sensors, XLSX
f = "sensors-770020.xlsx"
d = load(f)
wh = d["readings"].merge(d["devices"], on="device_id").query("site == 'Warehouse'")
num(
    "What is the difference between the highest and the lowest humidity recorded at the "
    "Warehouse site? Round to two decimals.",
    f,
    wh.humidity_pct.max() - wh.humidity_pct.min(),
)
# web, SQLite
f = "web-770005.db"
w = load(f)["sessions"]
num(
    "What is the conversion rate of email sessions, in percent? Round to two decimals.",
    f,
    100 * yes(w[w.source == "email"].converted).mean(),
)
mob = w[yes(w.converted) & (w.device == "mobile")]
num(
    "What is the average revenue of converted mobile sessions? Round to two decimals.",
    f,
    mob.revenue.mean(),
)
# web, one CSV
f = "web-770014.csv"
w = load(f)["web-770014"]
month = pd.to_datetime(w.started_at).dt.to_period("M").astype(str)
n = w.groupby(month).size()
num(
    "How many fewer sessions were there in 2020-03 than in 2020-02?",
    f,
    int(n["2020-02"] - n["2020-03"]),
    0,
)
top(
    "Which source brought the most revenue in 2020?",
    f,
    w[pd.to_datetime(w.started_at).dt.year == 2020].groupby("source").revenue.sum(),
)
# web, XLSX
f = "web-770023.xlsx"
w = load(f)["sessions"]
num(
    "What is the average number of pages of sessions that lasted longer than 10 minutes? Round "
    "to two decimals.",
    f,
    w[w.duration_s > 600].pages.mean(),
)

write()
