"""The yardstick of bench/api_throughput.py: a FastAPI app that only parses the same request model and answers
a fixed body. `uvicorn bench.bare_api:app`."""

from fastapi import FastAPI
from fastapi.responses import Response

from ticketing.models import TicketRequest

FIXED = b'{"id":"6314704d686a9e8e5d68dca6","code":"A12A42","status":"new","result":"pending","approved":true}'

app = FastAPI()


@app.post("/be/tickets")
def create_ticket(body: TicketRequest) -> Response:
    return Response(FIXED, media_type="application/json")
