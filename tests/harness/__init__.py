"""What several test folders share: the app's services over a cache and a store, a
launched `python app.py`, and free loopback ports. Import from here, not from another
folder's conftest."""
