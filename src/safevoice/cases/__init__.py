"""Cases: metadata, encrypted objects and wrapped keys, and the members' view of them."""
