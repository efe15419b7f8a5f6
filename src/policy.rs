//! From a VIP (and later its health and drain state) to the attributes announced.
