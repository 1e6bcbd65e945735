"""The sample business database: customers, products, categories, orders and order items, 2024-2025.

    python -m tools.sample_business                      # writes .hearth/sample_business.sqlite, prints the path
    python -m tools.sample_business --postgres postgresql://hearth:hearth@127.0.0.1:5432/hearth_test

The data is generated from a fixed seed, so every machine gets the same rows (the tests check a
checksum). Orders span all eight quarters of 2024-2025 across five regions, with growth over time and
a fourth-quarter peak, so business questions ("total sales in Q2 2025 by product category", "top 5
customers by revenue", "monthly revenue in 2024") have non-trivial answers. SAMPLE_DOCUMENTATION and
SAMPLE_EXAMPLES are the documentation and question/SQL pairs (SQLite dialect) for the text-to-SQL
few-shot store; the examples use other periods, regions and limits than those demo questions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import sqlite3
from pathlib import Path

SAMPLE_SEED = 20240101
SAMPLE_VERSION = 1  # stored as PRAGMA user_version; bump when the generated data changes
SAMPLE_FILENAME = "sample_business.sqlite"

# Portable DDL: valid as written in SQLite and PostgreSQL.
SAMPLE_DDL = [
    """CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT
)""",
    """CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  unit_price DECIMAL(10, 2) NOT NULL
)""",
    """CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  segment TEXT NOT NULL,
  region TEXT NOT NULL,
  city TEXT NOT NULL,
  signup_date DATE NOT NULL
)""",
    """CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  order_date DATE NOT NULL
)""",
    """CREATE TABLE order_items (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  unit_price DECIMAL(10, 2) NOT NULL
)""",
]
SAMPLE_TABLES = ["categories", "products", "customers", "orders", "order_items"]

CATEGORIES = {
    "Electronics": ("Phones, tablets and laptops",
                    ["Phone X", "Phone Lite", "Tablet 10", "Tablet Mini", "Laptop Pro 14", "Laptop Air 13"],
                    (199, 1899)),
    "Office Supplies": ("Paper, pens and desk items", ["Copy Paper A4", "Gel Pens (12)", "Sticky Notes", "Stapler",
                                                       "Notebook Pack"], (3, 29)),
    "Furniture": ("Desks, chairs and storage", ["Standing Desk", "Ergonomic Chair", "Filing Cabinet", "Bookshelf",
                                                "Meeting Table"], (129, 899)),
    "Software": ("Licences and subscriptions",
                 ["Office Suite Licence", "Antivirus 1yr", "Design Studio", "Backup Cloud 1TB", "Accounting Plus"],
                 (49, 499)),
    "Networking": ("Routers, switches and cables", ["Wi-Fi Router", "24-port Switch", "Mesh Kit", "Cat6 Cable 10m",
                                                    "Firewall Appliance"], (12, 749)),
    "Accessories": ("Peripherals for every desk", ["Wireless Mouse", "Mechanical Keyboard", "USB-C Hub", "Webcam HD",
                                                   "Headset Pro"], (19, 189)),
    "Printing": ("Printers and consumables", ["Laser Printer", "Inkjet Printer", "Toner Black", "Ink Colour Pack"],
                 (24, 549)),
    "Storage": ("Drives and memory", ["SSD 1TB", "External HDD 4TB", "USB Stick 128GB", "NAS 2-bay", "SD Card 256GB"],
                (15, 459)),
}
REGIONS = {
    "North": ["Leeds", "Newcastle", "York"],
    "South": ["Brighton", "Southampton", "Plymouth"],
    "East": ["Norwich", "Cambridge", "Ipswich"],
    "West": ["Bristol", "Exeter", "Bath"],
    "Central": ["Birmingham", "Nottingham", "Leicester"],
}
SEGMENTS = [("Enterprise", 0.2), ("SMB", 0.45), ("Consumer", 0.35)]
NAME_FIRST = ["Acme", "Northwind", "Bluebird", "Copperleaf", "Granite", "Harbor", "Juniper", "Kestrel", "Lumen",
              "Maple", "Nimbus", "Orchid", "Pioneer", "Quartz", "Redwood", "Summit", "Tidewater", "Vertex", "Willow",
              "Zephyr"]
NAME_SECOND = ["Logistics", "Foods", "Studios", "Partners", "Labs", "Retail", "Clinic", "Builders", "Travel", "Media"]
CUSTOMER_COUNT = 200
ORDERS_PER_QUARTER = [260, 280, 290, 380, 330, 350, 360, 470]  # 2024 Q1 .. 2025 Q4: growth and a Q4 peak

SAMPLE_DOCUMENTATION = [
    "Revenue (sales) is SUM(order_items.quantity * order_items.unit_price); join order_items to orders on "
    "order_items.order_id = orders.id. Use order_items.unit_price (the price paid), not products.unit_price "
    "(the list price).",
    "orders.order_date is an ISO date 'YYYY-MM-DD'. Quarters: Q1 = January-March, Q2 = April-June, "
    "Q3 = July-September, Q4 = October-December; filter Q2 2025 with "
    "order_date >= '2025-04-01' AND order_date < '2025-07-01'.",
    "The data covers 2024-01-01 to 2025-12-31. 'Last quarter' means Q4 2025, 'this year' 2025 and 'last year' 2024.",
    "Every customer has a region (North, South, East, West, Central), a city and a segment "
    "(Enterprise, SMB, Consumer). "
    "An order's region is its customer's region: join orders to customers on orders.customer_id = customers.id.",
    "Products belong to one category: join products to categories on products.category_id = categories.id.",
    "In SQLite, strftime('%Y-%m', order_date) gives the month and strftime('%Y', order_date) the year of an order.",
]

_REVENUE = "SUM(oi.quantity * oi.unit_price)"
SAMPLE_EXAMPLES = [
    {"question": "What were our total sales in Q1 2024 by product category?",
     "sql": f"SELECT c.name AS category, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id JOIN products AS p ON p.id = oi.product_id "
            "JOIN categories AS c ON c.id = p.category_id "
            "WHERE o.order_date >= '2024-01-01' AND o.order_date < '2024-04-01' GROUP BY c.name ORDER BY revenue DESC"},
    {"question": "Top 10 products by revenue",
     "sql": f"SELECT p.name AS product, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN products AS p ON p.id = oi.product_id GROUP BY p.name ORDER BY revenue DESC LIMIT 10"},
    {"question": "Top 3 customers by number of orders",
     "sql": "SELECT cu.name AS customer, COUNT(o.id) AS orders FROM customers AS cu "
            "JOIN orders AS o ON o.customer_id = cu.id GROUP BY cu.name ORDER BY orders DESC LIMIT 3"},
    {"question": "Monthly revenue in 2025",
     "sql": f"SELECT strftime('%Y-%m', o.order_date) AS month, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' "
            "GROUP BY month ORDER BY month"},
    {"question": "How many orders came from the East region in Q3 2025?",
     "sql": "SELECT COUNT(*) AS orders FROM orders AS o JOIN customers AS cu ON cu.id = o.customer_id "
            "WHERE cu.region = 'East' AND o.order_date >= '2025-07-01' AND o.order_date < '2025-10-01'"},
    {"question": "Revenue by region in 2024",
     "sql": f"SELECT cu.region AS region, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id JOIN customers AS cu ON cu.id = o.customer_id "
            "WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01' "
            "GROUP BY cu.region ORDER BY revenue DESC"},
    {"question": "How many customers do we have in each segment?",
     "sql": "SELECT segment, COUNT(*) AS customers FROM customers GROUP BY segment ORDER BY customers DESC"},
    {"question": "Quarterly revenue for 2024",
     "sql": "SELECT 'Q' || ((CAST(strftime('%m', o.order_date) AS INTEGER) + 2) / 3) AS quarter, "
            f"ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi JOIN orders AS o ON o.id = oi.order_id "
            "WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01' GROUP BY quarter ORDER BY quarter"},
    {"question": "Which city has the most customers?",
     "sql": "SELECT city, COUNT(*) AS customers FROM customers GROUP BY city ORDER BY customers DESC LIMIT 1"},
    {"question": "Number of orders per month in 2024",
     "sql": "SELECT strftime('%Y-%m', order_date) AS month, COUNT(*) AS orders FROM orders "
            "WHERE order_date >= '2024-01-01' AND order_date < '2025-01-01' GROUP BY month ORDER BY month"},
    {"question": "Total quantity sold per category",
     "sql": "SELECT c.name AS category, SUM(oi.quantity) AS quantity FROM order_items AS oi "
            "JOIN products AS p ON p.id = oi.product_id JOIN categories AS c ON c.id = p.category_id "
            "GROUP BY c.name ORDER BY quantity DESC"},
    {"question": "Which products have never been ordered?",
     "sql": "SELECT p.name AS product FROM products AS p LEFT JOIN order_items AS oi ON oi.product_id = p.id "
            "WHERE oi.id IS NULL ORDER BY p.name"},
    {"question": "Revenue from Enterprise customers by year",
     "sql": f"SELECT strftime('%Y', o.order_date) AS year, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id JOIN customers AS cu ON cu.id = o.customer_id "
            "WHERE cu.segment = 'Enterprise' GROUP BY year ORDER BY year"},
    {"question": "List the customers in the North region",
     "sql": "SELECT name, city FROM customers WHERE region = 'North' ORDER BY name"},
    {"question": "What is the average list price of products in each category?",
     "sql": "SELECT c.name AS category, ROUND(AVG(p.unit_price), 2) AS average_price FROM products AS p "
            "JOIN categories AS c ON c.id = p.category_id GROUP BY c.name ORDER BY average_price DESC"},
    {"question": "Top 3 customers by revenue",
     "sql": f"SELECT cu.name AS customer, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id JOIN customers AS cu ON cu.id = o.customer_id "
            "GROUP BY cu.id, cu.name ORDER BY revenue DESC LIMIT 3"},
    {"question": "Which product category had the highest revenue in Q3 2025?",
     "sql": f"SELECT c.name AS category, ROUND({_REVENUE}, 2) AS revenue FROM order_items AS oi "
            "JOIN orders AS o ON o.id = oi.order_id JOIN products AS p ON p.id = oi.product_id "
            "JOIN categories AS c ON c.id = p.category_id "
            "WHERE o.order_date >= '2025-07-01' AND o.order_date < '2025-10-01' "
            "GROUP BY c.name ORDER BY revenue DESC LIMIT 1"},
    {"question": "Average order value by region in Q1 2025",
     "sql": "SELECT region, ROUND(AVG(order_total), 2) AS average_order_value FROM (SELECT o.id, cu.region AS region, "
            f"{_REVENUE} AS order_total FROM orders AS o JOIN order_items AS oi ON oi.order_id = o.id "
            "JOIN customers AS cu ON cu.id = o.customer_id "
            "WHERE o.order_date >= '2025-01-01' AND o.order_date < '2025-04-01' GROUP BY o.id, cu.region) AS totals "
            "GROUP BY region ORDER BY average_order_value DESC"},
    {"question": "Average order value in 2025",
     "sql": "SELECT ROUND(AVG(order_total), 2) AS average_order_value FROM (SELECT o.id, "
            f"{_REVENUE} AS order_total FROM orders AS o JOIN order_items AS oi ON oi.order_id = o.id "
            "WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' GROUP BY o.id) AS totals"},
]


def generate_sample_rows(seed: int = SAMPLE_SEED) -> dict[str, list[tuple]]:
    """Every row of the sample database, by table, from `seed` (dates as ISO strings, prices rounded to cents)."""
    rng = random.Random(seed)
    categories, products = [], []
    for category_id, (name, (description, product_names, (low, high))) in enumerate(CATEGORIES.items(), start=1):
        categories.append((category_id, name, description))
        for product_name in product_names:
            products.append((len(products) + 1, product_name, category_id, round(rng.uniform(low, high), 2)))
    # Two products nobody buys, so "never ordered" has an answer.
    unsold = {products[-1][0], products[7][0]}
    sellable = [p for p in products if p[0] not in unsold]

    customers = []
    names_used: set[str] = set()
    segment_names, segment_weights = zip(*SEGMENTS)
    for customer_id in range(1, CUSTOMER_COUNT + 1):
        region = rng.choices(list(REGIONS), weights=[3, 3, 2, 4, 3])[0]
        city = rng.choice(REGIONS[region])
        name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)}"
        if name in names_used:
            name = f"{name} {city}"
        suffix = 2
        while name in names_used:
            name, suffix = f"{name.rsplit(' #', 1)[0]} #{suffix}", suffix + 1
        names_used.add(name)
        signup = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 3))
        customers.append((customer_id, name, rng.choices(segment_names, segment_weights)[0], region, city,
                          signup.isoformat()))
    # A few large accounts buy much more often than the rest.
    customer_weights = list(itertools.accumulate(rng.lognormvariate(0, 0.9) for _ in customers))

    orders, items = [], []
    for quarter_index, count in enumerate(ORDERS_PER_QUARTER):
        year, quarter = 2024 + quarter_index // 4, quarter_index % 4
        start = dt.date(year, 3 * quarter + 1, 1)
        end = dt.date(year + (quarter == 3), (3 * quarter + 3) % 12 + 1, 1)
        days = (end - start).days
        for _ in range(count):
            order_id = len(orders) + 1
            customer = rng.choices(customers, cum_weights=customer_weights)[0]
            orders.append((order_id, customer[0], (start + dt.timedelta(days=rng.randrange(days))).isoformat()))
            for product in rng.sample(sellable, k=rng.choice([1, 1, 2, 2, 3, 4])):
                quantity = rng.choice([1, 1, 1, 2, 2, 3, 5, 10]) * (3 if customer[2] == "Enterprise" else 1)
                discount = rng.choice([1.0, 1.0, 1.0, 0.95, 0.9])
                items.append((len(items) + 1, order_id, product[0], quantity, round(product[3] * discount, 2)))
    orders.sort(key=lambda o: (o[2], o[0]))
    return {"categories": categories, "products": products, "customers": customers, "orders": orders,
            "order_items": items}


def default_sample_path() -> Path:
    from models.settings import data_home

    return data_home() / SAMPLE_FILENAME


def ensure_sample_database(path: str | Path | None = None) -> Path:
    """Create the sample SQLite database at `path` (default: the data home) unless it is already there."""
    path = Path(path) if path else default_sample_path()
    if path.is_file() and _stored_version(path) == SAMPLE_VERSION:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial)
    try:
        with connection:
            for statement in SAMPLE_DDL:
                connection.execute(statement)
            for table, rows in generate_sample_rows().items():
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            connection.execute("CREATE INDEX orders_by_date ON orders(order_date)")
            connection.execute("CREATE INDEX items_by_order ON order_items(order_id)")
            connection.execute(f"PRAGMA user_version = {SAMPLE_VERSION}")
    finally:
        connection.close()
    os.replace(partial, path)  # atomic: a reader never sees half a database
    return path


def _stored_version(path: Path) -> int | None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return connection.execute("PRAGMA user_version").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def load_sample_into_postgres(url: str, schema: str = "public") -> dict[str, int]:
    """(Re)create the sample tables in `schema` of the PostgreSQL database at `url`; returns row counts.

    The tables are dropped first, so only point this at a database or schema meant for the sample.
    """
    import psycopg
    from psycopg import sql

    from tools.sql_database import postgres_conninfo

    rows_by_table = generate_sample_rows()
    with psycopg.connect(postgres_conninfo(url)) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        connection.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for table in reversed(SAMPLE_TABLES):
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
        for statement in SAMPLE_DDL:
            connection.execute(statement)
        with connection.cursor() as cursor:
            for table in SAMPLE_TABLES:
                with cursor.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
                    for row in rows_by_table[table]:
                        copy.write_row(row)
    return {table: len(rows) for table, rows in rows_by_table.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.sample_business", description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="SQLite file to write (default .hearth/sample_business.sqlite)")
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="also load the data into this PostgreSQL database")
    parser.add_argument("--schema", default="public", help="PostgreSQL schema for --postgres")
    args = parser.parse_args(argv)
    print(ensure_sample_database(args.path))
    if args.postgres:
        counts = load_sample_into_postgres(args.postgres, args.schema)
        print(", ".join(f"{table}: {n}" for table, n in counts.items()))


if __name__ == "__main__":
    main()
