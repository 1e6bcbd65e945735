"""Prompts of the analyst team."""

SUPERVISOR_PROMPT = """You manage a team of market analysts preparing a daily report.
Finished so far: {done}.
Team members who can work next: {candidates}.
news_collector gathers headlines; sentiment_analyst scores them; price_analyst studies prices; manager writes the report.
Choose who works next."""

NOTE_PROMPT = """Write one short sentence for investors about {ticker} ({company}).
Price: {price}
News sentiment: {sentiment:+.2f} (from -1 negative to +1 positive)
Top headline: {headline}"""
