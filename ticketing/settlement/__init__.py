"""After the sale: results, settlement, corrections, payouts at the counter, cancellations and the till's shifts."""
